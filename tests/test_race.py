"""Race-free activation: many processes on one database never pass a key's limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import net
from tests.helpers import setup_key, unique
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server

PROCESSES = {"sqlite": 2, "postgres": 3}
LIMIT = 5
ATTEMPTS = 150


@pytest.fixture(scope="module")
def cluster(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"race-{backend}")
    count = PROCESSES[backend]
    with own_server(backend, data_dir, _postgres_checked, count=count, env=RAISED_LIMITS) as srv:
        assert len(srv.urls) == count
        yield srv


async def _fire(
    urls: list[str], calls: list[tuple[str, dict[str, Any]]], headers: dict[str, str]
) -> list[tuple[int, dict[str, Any] | None]]:
    """POST every (route, body) at once, spread round-robin over the server processes."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    clients = [
        net.async_client(base_url=u, limits=limits, timeout=60, headers=headers) for u in urls
    ]
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


def fire(
    server: Server, calls: list[tuple[str, dict[str, Any]]], api_key: str | None = None
) -> list[tuple[int, Any]]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return asyncio.run(_fire(server.faces("test"), calls, headers))


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


def test_concurrent_imports_of_one_key_make_exactly_one(cluster: Server) -> None:
    tenant, rival = cluster.tenant(), cluster.tenant()
    product_id, customer_id, _ = setup_key(tenant)
    rival_product, rival_customer, _ = setup_key(rival)
    text = unique("CONTESTED")
    mine = {"customer_id": customer_id, "product_id": product_id, "key": text}
    theirs = {"customer_id": rival_customer, "product_id": rival_product, "key": text}
    results = fire(cluster, [("/license_keys", mine)] * 15, tenant.api_key)
    results += fire(cluster, [("/license_keys", theirs)] * 5, rival.api_key)
    assert Counter(s for s, _ in results) == {201: 1, 409: 19}
    assert {b["code"] for s, b in results if s == 409} == {"LICENSE_KEY_ALREADY_EXISTS"}
    with tenant.http() as http:
        keys = http.get("/license_keys", params={"page_size": 100}).json()["items"]
    assert [k["key"] for k in keys].count(text) == 1


def test_concurrent_creates_of_distinct_keys_all_succeed(cluster: Server) -> None:
    tenant = cluster.tenant()
    product_id, customer_id, first = setup_key(tenant)
    body = {"customer_id": customer_id, "product_id": product_id}
    calls = [("/license_keys", {**body, "key": unique()}) for _ in range(20)]
    calls += [("/license_keys", body) for _ in range(20)]  # generated keys
    results = fire(cluster, calls, tenant.api_key)
    assert Counter(s for s, _ in results) == {201: 40}
    with tenant.http() as http:
        listed = http.get("/license_keys", params={"page_size": 100}).json()["items"]
    assert {k["id"] for k in listed} == {b["id"] for _, b in results} | {first["id"]}


def test_lowering_the_limit_while_activating_keeps_the_invariant(cluster: Server) -> None:
    tenant = cluster.tenant()
    _, _, lk = setup_key(tenant, activations_limit=10)

    async def both() -> tuple[list[tuple[int, Any]], int]:
        activations = _fire(
            cluster.faces("test"),
            [
                ("/licenses/activate", {"license_key": lk["key"], "name": f"m{i}"})
                for i in range(30)
            ],
            {},
        )

        async def lower() -> int:
            await asyncio.sleep(0.06)
            async with net.async_client(
                base_url=cluster.faces("test")[-1],
                headers={"Authorization": f"Bearer {tenant.api_key}"},
                timeout=60,
            ) as http:
                resp = await http.patch(f"/license_keys/{lk['id']}", json={"activations_limit": 3})
                return resp.status_code

        done: tuple[list[tuple[int, Any]], int] = await asyncio.gather(activations, lower())
        return done

    results, patched = asyncio.run(both())
    won = sum(1 for s, _ in results if s == 201)
    count = count_of(tenant, lk["id"])
    assert count == won == len(instances_of(tenant, lk["id"]))
    with tenant.http() as http:
        limit = http.get(f"/license_keys/{lk['id']}").json()["activations_limit"]
    if patched == 200:
        assert (limit, count <= 3) == (3, True)
    else:
        assert (patched, limit) == (422, 10)
        assert 3 < count <= 10
