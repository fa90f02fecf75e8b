"""Race-free activation: many processes on one database never pass a key's limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.helpers import setup_key
from tests.servers import Server, Tenant, fresh_postgres_database, start_server

PROCESSES = {"sqlite": 2, "postgres": 3}
LIMIT = 5
ATTEMPTS = 150


@pytest.fixture(scope="module")
def cluster(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        data_dir = tmp_path_factory.mktemp(f"race-{backend}")
        srv = start_server(backend, data_dir, url, count=PROCESSES[backend])
        stack.callback(srv.stop)
        assert len(srv.urls) == PROCESSES[backend]
        yield srv


async def _fire(
    urls: list[str], calls: list[tuple[str, dict[str, Any]]]
) -> list[tuple[int, dict[str, Any] | None]]:
    """POST every (route, body) at once, spread round-robin over the server processes."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=60) for u in urls]
    start = asyncio.Event()

    async def one(i: int, route: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        await start.wait()
        resp = await clients[i % len(clients)].post(route, json=body)
        return resp.status_code, (resp.json() if resp.content else None)

    try:
        tasks = [asyncio.create_task(one(i, r, b)) for i, (r, b) in enumerate(calls)]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.aclose()


def fire(server: Server, calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, Any]]:
    return asyncio.run(_fire(server.urls, calls))


def instances_of(tenant: Tenant, key_id: str) -> list[str]:
    with tenant.http() as http:
        items = http.get(
            "/license_key_instances", params={"license_key_id": key_id, "page_size": 100}
        ).json()["items"]
    return [i["id"] for i in items]


def count_of(tenant: Tenant, key_id: str) -> int:
    with tenant.http() as http:
        count: int = http.get(f"/license_keys/{key_id}").json()["instances_count"]
    return count


def test_concurrent_activations_never_pass_the_limit(cluster: Server) -> None:
    tenant = cluster.tenant()
    _, _, lk = setup_key(tenant, activations_limit=LIMIT)
    calls = [
        ("/licenses/activate", {"license_key": lk["key"], "name": f"m{i}"}) for i in range(ATTEMPTS)
    ]
    results = fire(cluster, calls)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: LIMIT, 422: ATTEMPTS - LIMIT}
    refused = {body["code"] for status, body in results if status == 422}
    assert refused == {"LICENSE_KEY_LIMIT_REACHED"}
    won = sorted(body["id"] for status, body in results if status == 201)
    assert len(set(won)) == LIMIT
    assert count_of(tenant, lk["id"]) == LIMIT
    assert sorted(instances_of(tenant, lk["id"])) == won


def test_unlimited_key_takes_every_activation(cluster: Server) -> None:
    tenant = cluster.tenant()
    _, _, lk = setup_key(tenant)
    n = 60
    calls = [("/licenses/activate", {"license_key": lk["key"], "name": f"m{i}"}) for i in range(n)]
    assert Counter(s for s, _ in fire(cluster, calls)) == {201: n}
    assert count_of(tenant, lk["id"]) == n
    assert len(instances_of(tenant, lk["id"])) == n


def test_concurrent_deactivate_and_activate_keep_the_count(cluster: Server) -> None:
    tenant = cluster.tenant()
    _, _, lk = setup_key(tenant, activations_limit=LIMIT)
    first = fire(
        cluster,
        [("/licenses/activate", {"license_key": lk["key"], "name": f"a{i}"}) for i in range(LIMIT)],
    )
    old = [body["id"] for status, body in first if status == 201]
    assert len(old) == LIMIT
    # each instance deactivated three times at once, with 60 activations in between
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(60):
        calls.append(("/licenses/activate", {"license_key": lk["key"], "name": f"b{i}"}))
        if i < 3 * LIMIT:
            instance = old[i % LIMIT]
            body = {"license_key": lk["key"], "license_key_instance_id": instance}
            calls.append(("/licenses/deactivate", body))
    results = fire(cluster, calls)
    deact = Counter(
        s for (route, _), (s, _) in zip(calls, results, strict=True) if "deact" in route
    )
    assert deact == {200: LIMIT, 404: 2 * LIMIT}
    activated = [
        body["id"]
        for (route, _), (s, body) in zip(calls, results, strict=True)
        if "/activate" in route and s == 201
    ]
    refused = {
        body["code"]
        for (route, _), (s, body) in zip(calls, results, strict=True)
        if "/activate" in route and s != 201
    }
    assert refused <= {"LICENSE_KEY_LIMIT_REACHED"}
    assert len(activated) <= LIMIT
    listed = instances_of(tenant, lk["id"])
    assert sorted(listed) == sorted(activated)  # every old one is gone
    assert count_of(tenant, lk["id"]) == len(listed)
    # and the counter still tells the truth: fill the free seats, then the limit holds
    free = LIMIT - len(listed)
    again = fire(
        cluster,
        [("/licenses/activate", {"license_key": lk["key"], "name": f"c{i}"}) for i in range(20)],
    )
    assert Counter(s for s, _ in again) == ({201: free, 422: 20 - free} if free else {422: 20})
    assert count_of(tenant, lk["id"]) == LIMIT
