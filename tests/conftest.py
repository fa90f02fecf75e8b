"""Every HTTP test runs against real servers: one on SQLite, one on PostgreSQL.

Backends come from LICENSOR_TEST_BACKENDS (default "sqlite,postgres"). Under CI=true a
PostgreSQL that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.servers import (
    RAISED_LIMITS,
    Server,
    Tenant,
    fresh_postgres_database,
    postgres_available,
    redis_available,
    start_server,
)

pytest_plugins = ["tests.mail_fixtures"]

BACKENDS = [
    b.strip() for b in os.environ.get("LICENSOR_TEST_BACKENDS", "sqlite,postgres").split(",")
]


# Under xdist (`make test`: -n N --dist loadgroup) a module whose module-scoped fixtures
# start their own servers runs on one worker, so those servers start once, not once per
# worker. The race and flood clusters (several processes, each with its PostgreSQL pool)
# share one group: one at a time, or they exhaust PostgreSQL's connections.
XDIST_GROUPS = {
    "test_race": "heavy",
    "test_flood": "heavy",
    "test_rate_limits": "test_rate_limits",
    "test_edge": "test_edge",
    "test_parity": "test_parity",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if module in XDIST_GROUPS:
            item.add_marker(pytest.mark.xdist_group(XDIST_GROUPS[module]))


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
    with ExitStack() as stack:
        data_dir: Path = tmp_path_factory.mktemp(f"data-{backend}")
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        # One loopback address sends the whole suite: not what a real client sends.
        srv = start_server(backend, data_dir, url, env=RAISED_LIMITS)
        stack.callback(srv.stop)
        yield srv


@pytest.fixture
def tenant(server: Server) -> Tenant:
    return server.tenant()
