"""The hot paths' row caches across processes (kit/rowcache.py, migration 1200): two
server processes on one database, each caching rows for a minute
(`LICENSOR_VALIDATE_CACHE_SECONDS=60`), so only an invalidation can make process B see
a change made through process A (or by another writer) — and it must within a second."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from licensor.kit.context import AppContext
from licensor.kit.rowcache import APPLICATION_NAME
from tests import net
from tests.helpers import make_customer, make_key, make_product, unique
from tests.instance_keys.helpers import (
    bearer,
    change_subscription,
    make_plan,
    org_with_people,
    subscribe,
)
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server

BOUND = 1.0  # seconds: every process sees a change within this
GIVE_UP = 5.0
CHECKIN = "/api/v1/licensing/validate"
LISTENERS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = :name"
)


@pytest.fixture(scope="module")
def pair(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    env = {**RAISED_LIMITS, "LICENSOR_VALIDATE_CACHE_SECONDS": "60"}
    data_dir = tmp_path_factory.mktemp(f"rowcache-{backend}")
    with own_server(backend, data_dir, _postgres_checked, count=2, env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def tenant(pair: Server) -> Tenant:
    return pair.tenant()  # its API is process A's


def validate_on(pair: Server, key: str) -> bool:
    """Process B's answer."""
    r = net.post(pair.faces("test")[1] + "/licenses/validate", json={"license_key": key})
    assert r.status_code == 200, r.text
    return bool(r.json()["valid"])


def seen_within(check: Callable[[], bool]) -> float:
    """Seconds until `check()` holds; fails past the bound."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < GIVE_UP, "process B still answers from a stale row"
        time.sleep(0.02)
    took = time.monotonic() - start
    assert took <= BOUND, f"seen after {took:.2f} s"
    return took


def warm(pair: Server, key: str, valid: bool = True) -> None:
    for _ in range(3):
        assert validate_on(pair, key) is valid


def patch(tenant: Tenant, path: str, body: dict[str, Any]) -> None:
    with tenant.http() as http:
        r = http.patch(path, json=body)
    assert r.status_code == 200, r.text


def sql(pair: Server, *statements: str, **params: Any) -> list[Any]:
    """Run statements in one transaction of the test's own (a writer that is no server)."""

    async def go(ctx: AppContext) -> list[Any]:
        async with ctx.db.write_sessions() as session, session.begin():
            rows: list[Any] = []
            for statement in statements:
                result = await session.execute(text(statement), params)
                rows = list(result.all()) if statement.startswith("SELECT") else []
            return rows

    return pair.run(go)


def new_key(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    product = make_product(tenant, **fields.pop("product", {}))
    customer = make_customer(tenant)
    return make_key(tenant, customer, product, unique(), **fields)


def test_disable_and_enable_are_seen_by_the_other_process(pair: Server, tenant: Tenant) -> None:
    key = new_key(tenant)
    warm(pair, key["key"])
    patch(tenant, f"/license_keys/{key['id']}", {"disabled": True})
    seen_within(lambda: not validate_on(pair, key["key"]))
    patch(tenant, f"/license_keys/{key['id']}", {"disabled": False})
    seen_within(lambda: validate_on(pair, key["key"]))


def test_expiry_change_is_seen(pair: Server, tenant: Tenant) -> None:
    key = new_key(tenant)
    warm(pair, key["key"])
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    patch(tenant, f"/license_keys/{key['id']}", {"expires_at": past})
    seen_within(lambda: not validate_on(pair, key["key"]))


def test_expiry_is_applied_at_read_time(pair: Server, tenant: Tenant) -> None:
    """A cached row's expiry passes without any write: the answer changes with time."""
    soon = datetime.now(UTC) + timedelta(seconds=2)
    key = new_key(tenant, expires_at=soon.isoformat())
    warm(pair, key["key"])
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()))
    seen_within(lambda: not validate_on(pair, key["key"]))


def test_product_policy_change_is_seen(pair: Server, tenant: Tenant) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    key = new_key(tenant, expires_at=past)
    warm(pair, key["key"], valid=False)
    policy = {"license_policy": {"expiry_grace_days": 7}}
    patch(tenant, f"/products/{key['product_id']}", policy)
    seen_within(lambda: validate_on(pair, key["key"]))


def test_deletion_by_another_writer_is_seen(pair: Server, tenant: Tenant) -> None:
    key = new_key(tenant)
    warm(pair, key["key"])
    sql(pair, "DELETE FROM license_keys WHERE id = :id", id=key["id"])
    seen_within(lambda: not validate_on(pair, key["key"]))


def test_a_lost_listener_leaves_nothing_stale(pair: Server, tenant: Tenant) -> None:
    """The listening connections killed, and the key disabled in the same transaction:
    its notice goes to no one, so process B must have emptied its cache itself (on the
    loss, and again once it listens anew); then it hears notices again."""
    if pair.backend != "postgres":
        pytest.skip("SQLite has no listener: data_version is read on every use")
    key = new_key(tenant)
    warm(pair, key["key"])
    before = {row[0] for row in sql(pair, LISTENERS, name=APPLICATION_NAME)}
    assert len(before) == 2  # one per process
    sql(
        pair,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = :name",
        "UPDATE license_keys SET disabled = true WHERE id = :id",
        name=APPLICATION_NAME,
        id=key["id"],
    )
    seen_within(lambda: not validate_on(pair, key["key"]))

    def listening_again() -> bool:
        now = {row[0] for row in sql(pair, LISTENERS, name=APPLICATION_NAME)}
        return len(now) == 2 and not now & before

    seen_within(listening_again)
    patch(tenant, f"/license_keys/{key['id']}", {"disabled": False})
    seen_within(lambda: validate_on(pair, key["key"]))
    warm(pair, key["key"])
    patch(tenant, f"/license_keys/{key['id']}", {"disabled": True})
    seen_within(lambda: not validate_on(pair, key["key"]))


def test_sqlite_commits_that_change_no_cached_row_keep_the_caches(
    pair: Server, tenant: Tenant
) -> None:
    """SQLite's `data_version` moves on every commit (an activation, a last-seen write);
    only a moved `hot_versions` counter empties a cache. Shown with a change the
    counters miss: the key disabled with its trigger dropped (and put back), then
    another key activated through process B: B still answers from its cached row."""
    if pair.backend != "sqlite":
        pytest.skip("PostgreSQL evicts by notice; it has no counters to read")
    key, other = new_key(tenant), new_key(tenant)
    warm(pair, key["key"])
    trigger = "license_keys_hot_update"
    found = sql(pair, "SELECT sql FROM sqlite_master WHERE name = :name", name=trigger)
    sql(
        pair,
        f"DROP TRIGGER {trigger}",
        "UPDATE license_keys SET disabled = 1 WHERE id = :id",
        found[0][0],
        id=key["id"],
    )
    body = {"license_key": other["key"], "name": "laptop"}
    activated = net.post(pair.faces("test")[1] + "/licenses/activate", json=body)
    assert activated.status_code == 201, activated.text
    assert validate_on(pair, key["key"]) is True  # kept: no counter moved
    patch(tenant, f"/license_keys/{key['id']}", {"disabled": False})  # counted again


class Checkin:
    """An organisation on a started subscription with one instance key (made through A)."""

    def __init__(self, pair: Server, tenant: Tenant) -> None:
        org = org_with_people(tenant, roles=())
        self.owner = bearer(org.tokens["owner"])
        plan = make_plan(pair, tenant, unique("plan").lower(), ["core"])
        start = datetime.now(UTC) - timedelta(days=1)
        self.subscription = subscribe(pair, tenant, org.id, plan, starts_at=start)
        r = net.post(
            tenant.base_url + "/api/v1/licensing/keys",
            json={"instanceName": "Production"},
            headers=self.owner,
        )
        assert r.status_code == 201, r.text
        self.id, self.key = r.json()["id"], r.json()["licenseKey"]
        self.b = pair.faces("test")[1] + CHECKIN

    def status(self) -> str:
        r = net.post(self.b, json={}, headers=bearer(self.key))
        assert r.status_code == 200, r.text
        return str(r.json()["license"]["status"])


def test_check_in_sees_a_revocation(pair: Server, tenant: Tenant) -> None:
    instance = Checkin(pair, tenant)
    assert instance.status() == "active"
    assert instance.status() == "active"
    url = f"{tenant.base_url}/api/v1/licensing/keys/{instance.id}"
    assert net.delete(url, headers=instance.owner).status_code == 200
    seen_within(lambda: instance.status() == "key_revoked")


def test_check_in_sees_a_cancelled_subscription(pair: Server, tenant: Tenant) -> None:
    instance = Checkin(pair, tenant)
    assert instance.status() == "active"
    assert instance.status() == "active"
    change_subscription(pair, instance.subscription, cancelled_at=datetime.now(UTC))
    seen_within(lambda: instance.status() == "subscription_cancelled")
