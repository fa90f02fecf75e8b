"""Every HTTP test runs against real servers: one on SQLite, one on PostgreSQL.

Backends come from LICENSOR_TEST_BACKENDS (default "sqlite,postgres"). Under CI=true a
PostgreSQL that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from licensor.config import Settings
from tests.servers import (
    RAISED_LIMITS,
    Server,
    Tenant,
    own_server,
    postgres_available,
    redis_available,
)

pytest_plugins = ["tests.mail_fixtures", "tests.browser"]

# argon2 at a low cost for every server and command the suite starts (they inherit this
# environment): the suite signs in hundreds of members and staff, and at the default cost
# each hash or check is a fifth of a second of CPU. The same code path, argon2id; only
# the cost differs (kit/passwords.py). tests/test_passwords.py shows the default cost, and
# that a server hashes at the configured one.
TEST_PASSWORD_COST = {
    "LICENSOR_PASSWORD_TIME_COST": "1",
    "LICENSOR_PASSWORD_MEMORY_KIB": "64",
    "LICENSOR_PASSWORD_PARALLELISM": "1",
}
for _name, _value in TEST_PASSWORD_COST.items():
    os.environ.setdefault(_name, _value)
# For a server whose test measures what argon2 costs it: the production default, read
# from the settings' own defaults (LICENSOR_PASSWORD_TIME_COST is `password_time_cost`).
DEFAULT_PASSWORD_COST = {
    name: str(Settings.model_fields[name.removeprefix("LICENSOR_").lower()].default)
    for name in TEST_PASSWORD_COST
}

BACKENDS = [
    b.strip() for b in os.environ.get("LICENSOR_TEST_BACKENDS", "sqlite,postgres").split(",")
]


# Under xdist (`make test`: -n N) every test is scheduled on its own, except that the tests
# of a group run on one worker, in order: a module whose module-scoped fixtures start their
# own servers (they start once, not once per worker), and the race and flood clusters
# (several processes, each with its PostgreSQL pool: one at a time, or they exhaust
# PostgreSQL's connections). Groups are made here, from the file name, because xdist 3.8's
# `--dist loadgroup` does not group under pytest 9 (it renames `item._nodeid`, gone there).
XDIST_GROUPS = {
    "test_console_desk": "test_console_desk",
    "test_race": "heavy",
    "test_flood": "heavy",
    "test_floating_cluster": "heavy",
    "test_rate_limits": "test_rate_limits",
    "test_edge": "test_edge",
    "test_parity": "test_parity",
    "test_idempotency": "test_idempotency",
    "test_webhooks": "test_webhooks",
    "test_webhooks_delivery": "test_webhooks_delivery",
    "test_machines_events": "test_machines_events",
    "test_desk_delivery": "test_desk_delivery",
    "test_desk_delivery_codes": "test_desk_delivery_codes",
    "test_console_sso": "test_console_sso",
    "test_replica": "test_replica",
    # module-scoped servers that were started again on every worker a test of theirs went to
    # (row_cache 10 forks for its 4 processes, audit_sealer 6 for 2, measured)
    "test_row_cache": "test_row_cache",
    "test_audit_sealer": "test_audit_sealer",
    "test_delivery_cli": "test_delivery_cli",
    "test_mail_sending": "test_mail_sending",
    "test_mail_recipients": "test_mail_recipients",
}


def xdist_scope(nodeid: str) -> str:
    """The scheduling unit of a test: its group, or the test itself."""
    stem = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return XDIST_GROUPS.get(stem, nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return GroupScheduling(config, log)


# The longest tests that are scheduling units of their own go first. xdist hands out the
# groups first (most tests first) and then the single tests in collection order, so the
# schemathesis shards (20 to 30 s each), collected near the end, ran last, one after
# another on one worker, while the other workers had finished (34 s of a 6-minute run,
# measured). After pytest's own ordering (trylast): the sort is stable, so the rest keeps it.
LONG_FIRST = ("tests/test_schemathesis.py::test_schemathesis_finds_nothing[",)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, scope="session")


@pytest.fixture(scope="session")
def _postgres_checked() -> bool:
    ok = postgres_available()
    if not ok and os.environ.get("CI") == "true":
        pytest.fail("PostgreSQL is required under CI=true but is not reachable", pytrace=False)
    return ok


@pytest.fixture(scope="session")
def redis_checked() -> bool:
    ok = redis_available()
    if not ok and os.environ.get("CI") == "true":
        pytest.fail("Redis is required under CI=true but is not reachable", pytrace=False)
    return ok


@pytest.fixture(scope="session")
def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp(f"data-{backend}")
    # One loopback address sends the whole suite: not what a real client sends.
    with own_server(backend, data_dir, _postgres_checked, env=RAISED_LIMITS) as srv:
        yield srv


@pytest.fixture
def tenant(server: Server) -> Tenant:
    return server.tenant()
