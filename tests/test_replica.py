"""LICENSOR_DATABASE_READ_URL: validate, the check-in's lookup and the API's lists read a
real streaming replica; activation and retrieve-by-id read (and write) the primary.

The proof: with the replica's WAL replay paused, a change made through the API is seen at
once where the primary is read, and not yet where the replica is; replay resumed, the
replica's readers see it too. That server keeps no row cache
(`LICENSOR_VALIDATE_CACHE_SECONDS=0`), so each validate is a replica read; a second one
with the cache shows that a key just changed is read again from the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import net
from tests.helpers import activate, make_customer, make_product, unique
from tests.pgcluster import Cluster, primary_and_replica
from tests.servers import RAISED_LIMITS, Server, start_server


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    with primary_and_replica() as pair:
        yield pair


@pytest.fixture(scope="module")
def replicated(
    clusters: tuple[Cluster, Cluster], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    primary, replica = clusters
    primary.sql("CREATE DATABASE licensor")
    wait_until(lambda: replica.sql("SELECT count(*) FROM pg_database WHERE datname = 'licensor'"))
    env = {
        **RAISED_LIMITS,
        "LICENSOR_DATABASE_READ_URL": replica.url("licensor"),
        "LICENSOR_VALIDATE_CACHE_SECONDS": "0",
    }
    server = start_server(
        "postgres", tmp_path_factory.mktemp("data"), primary.url("licensor"), env=env
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cached(replicated: Server, clusters: tuple[Cluster, Cluster]) -> Iterator[Server]:
    """Another process on the same primary, replica and secret, with the row cache."""
    primary, replica = clusters
    env = {**RAISED_LIMITS, "LICENSOR_DATABASE_READ_URL": replica.url("licensor")}
    data_dir = replicated.settings.data_dir
    server = start_server("postgres", data_dir, primary.url("licensor"), env=env)
    try:
        yield server
    finally:
        server.stop()


def wait_until(check: object, seconds: float = 30) -> None:
    assert callable(check)
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


def valid(base_url: str, key: str) -> bool:
    resp = net.post(base_url + "/licenses/validate", json={"license_key": key})
    assert resp.status_code == 200, resp.text
    return bool(resp.json()["valid"])


def test_reads_come_from_the_replica_and_writes_read_the_primary(
    replicated: Server, clusters: tuple[Cluster, Cluster]
) -> None:
    _, replica = clusters
    assert replica.sql("SELECT pg_is_in_recovery()") is True
    tenant = replicated.tenant()
    product_id = make_product(tenant)
    customer_id = make_customer(tenant)
    key = unique()
    with tenant.http() as http:
        made = http.post(
            "/license_keys",
            json={"customer_id": customer_id, "product_id": product_id, "key": key},
        )
        assert made.status_code == 201, made.text
        key_id = made.json()["id"]
        wait_until(lambda: valid(tenant.base_url, key))  # replicated, then read there

        replica.sql("SELECT pg_wal_replay_pause()")
        try:
            assert http.patch(f"/license_keys/{key_id}", json={"disabled": True}).status_code == 200
            # Retrieve by id reads the primary: its own write, at once.
            assert http.get(f"/license_keys/{key_id}").json()["status"] == "disabled"
            # Activation reads the key on the primary before it writes: refused at once.
            refused = activate(tenant.base_url, key)
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "LICENSE_KEY_DISABLED"
            # Validate and the list read the paused replica: they do not see it yet.
            assert valid(tenant.base_url, key) is True
            listed = http.get("/license_keys", params={"customer_id": customer_id}).json()
            assert [item["status"] for item in listed["items"]] == ["active"]
        finally:
            replica.sql("SELECT pg_wal_replay_resume()")
        wait_until(lambda: not valid(tenant.base_url, key))
        listed = http.get("/license_keys", params={"customer_id": customer_id}).json()
        assert [item["status"] for item in listed["items"]] == ["disabled"]


def test_a_changed_key_is_read_from_the_primary_while_the_replica_catches_up(
    replicated: Server, cached: Server, clusters: tuple[Cluster, Cluster]
) -> None:
    """The change's notice comes from the primary before the paused replica has the row:
    the cached process reads that key from the primary (kit/rowcache.py `settling`)
    instead of caching the replica's old row."""
    _, replica = clusters
    tenant = replicated.tenant()
    key = unique()
    with tenant.http() as http:
        body = {"customer_id": make_customer(tenant), "product_id": make_product(tenant)}
        made = http.post("/license_keys", json={**body, "key": key})
        assert made.status_code == 201, made.text
        face = cached.face("test")
        wait_until(lambda: valid(face, key))  # replicated, and in the cache
        replica.sql("SELECT pg_wal_replay_pause()")
        try:
            patched = http.patch(f"/license_keys/{made.json()['id']}", json={"disabled": True})
            assert patched.status_code == 200
            assert valid(tenant.base_url, key) is True  # the uncached process: the replica
            start = time.monotonic()
            wait_until(lambda: not valid(face, key), seconds=5)
            assert time.monotonic() - start < 1.0
            time.sleep(0.5)
            assert valid(face, key) is False  # kept, not replaced by the replica's row
        finally:
            replica.sql("SELECT pg_wal_replay_resume()")


def test_a_replica_needs_a_postgresql_primary(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from licensor.config import Settings

    with pytest.raises(ValidationError, match="READ_URL"):
        Settings(data_dir=tmp_path, database_read_url="postgresql+asyncpg://x/y")
