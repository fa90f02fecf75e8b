"""Idempotency-Key on the management API's POSTs (docs/events.md, "Idempotency")."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.idempotency.service import KEY_PURPOSE
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.idempotency import fingerprint
from licensor.models import IdempotencyKey
from tests import net
from tests.helpers import in_db, make_customer, make_product, unique
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server


def new_key() -> str:
    return f"idem-{uuid.uuid4()}"


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def keys_of(tenant: Tenant, product_id: str) -> list[dict[str, Any]]:
    with tenant.http() as http:
        resp = http.get("/license_keys", params={"product_id": product_id, "page_size": 100})
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


@pytest.fixture
def catalog(tenant: Tenant) -> tuple[str, str]:
    return make_product(tenant), make_customer(tenant)


def test_retry_replays_the_first_answer(tenant: Tenant, catalog: tuple[str, str]) -> None:
    product_id, customer_id = catalog
    body = {"customer_id": customer_id, "product_id": product_id}  # a generated key each time
    key = new_key()
    with tenant.http() as http:
        first = http.post("/license_keys", json=body, headers=keyed(key))
        # the same JSON in another order and spacing is the same request
        again = http.post(
            "/license_keys",
            content=f'{{ "product_id": "{product_id}", "customer_id": "{customer_id}" }}',
            headers={**keyed(key), "Content-Type": "application/json"},
        )
        other = http.post("/license_keys", json=body, headers=keyed(new_key()))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert {k["id"] for k in keys_of(tenant, product_id)} == {
        first.json()["id"],
        other.json()["id"],
    }


def test_a_stored_answer_holds_no_key_in_clear(
    server: Server, tenant: Tenant, catalog: tuple[str, str]
) -> None:
    product_id, customer_id = catalog
    secret = unique("SECRET")
    with tenant.http() as http:
        made = http.post(
            "/license_keys",
            json={"customer_id": customer_id, "product_id": product_id, "key": secret},
            headers=keyed(new_key()),
        )
    assert made.status_code == 201
    assert made.json()["key"] == secret

    async def work(_: AppContext, session: AsyncSession) -> list[bytes]:
        rows = await session.scalars(
            select(IdempotencyKey.response_body_encrypted).where(
                IdempotencyKey.business_id == tenant.business_id
            )
        )
        return [row or b"" for row in rows]

    (stored,) = in_db(server, work)
    assert stored
    assert secret.encode() not in stored


def test_an_error_answer_is_replayed_too(tenant: Tenant, catalog: tuple[str, str]) -> None:
    product_id, _ = catalog
    body = {"customer_id": "cus_doesnotexist", "product_id": product_id}
    key = new_key()
    with tenant.http() as http:
        first = http.post("/license_keys", json=body, headers=keyed(key))
        again = http.post("/license_keys", json=body, headers=keyed(key))
        invalid = http.post("/customers", json={"email": "nope"}, headers=keyed(key + "-v"))
        invalid_again = http.post("/customers", json={"email": "nope"}, headers=keyed(key + "-v"))
    assert first.status_code == 404, first.text
    assert (again.status_code, again.json()) == (404, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "VALIDATION_ERROR"
    assert (invalid_again.status_code, invalid_again.content) == (422, invalid.content)
    assert invalid_again.headers["idempotent-replayed"] == "true"


def test_same_key_for_another_request_is_refused(tenant: Tenant, catalog: tuple[str, str]) -> None:
    product_id, customer_id = catalog
    key = new_key()
    body = {"customer_id": customer_id, "product_id": product_id}
    with tenant.http() as http:
        first = http.post("/license_keys", json=body, headers=keyed(key))
        other_body = http.post(
            "/license_keys", json={**body, "activations_limit": 3}, headers=keyed(key)
        )
        other_route = http.post(
            "/customers", json={"email": "b@example.test", "name": "B"}, headers=keyed(key)
        )
    assert first.status_code == 201
    for resp in (other_body, other_route):
        assert resp.status_code == 422, resp.text
        assert resp.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert [k["id"] for k in keys_of(tenant, product_id)] == [first.json()["id"]]


def test_key_length(tenant: Tenant, catalog: tuple[str, str]) -> None:
    product_id, customer_id = catalog
    body = {"customer_id": customer_id, "product_id": product_id}
    with tenant.http() as http:
        too_long = http.post("/license_keys", json=body, headers=keyed("k" * 256))
        longest = http.post("/license_keys", json=body, headers=keyed("k" * 255))
        empty = http.post("/license_keys", json=body, headers=keyed(""))
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert "256" in too_long.json()["message"]
    assert empty.status_code == 400
    assert empty.json()["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert longest.status_code == 201, longest.text
    assert [k["id"] for k in keys_of(tenant, product_id)] == [longest.json()["id"]]


def test_keys_are_scoped_by_business_and_mode(server: Server) -> None:
    key = new_key()
    answers = []
    for tenant in (server.tenant("test"), server.tenant("test"), server.tenant("live")):
        product_id, customer_id = make_product(tenant), make_customer(tenant)
        with tenant.http() as http:
            resp = http.post(
                "/license_keys",
                json={"customer_id": customer_id, "product_id": product_id},
                headers=keyed(key),
            )
            again = http.post(
                "/license_keys",
                json={"customer_id": customer_id, "product_id": product_id},
                headers=keyed(key),
            )
        assert resp.status_code == 201, resp.text
        assert "idempotent-replayed" not in resp.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == resp.content
        answers.append(resp.json()["id"])
    assert len(set(answers)) == 3


def test_requests_without_a_valid_api_key_are_not_kept(
    tenant: Tenant, catalog: tuple[str, str]
) -> None:
    product_id, customer_id = catalog
    key = new_key()
    body = {"customer_id": customer_id, "product_id": product_id}
    bad = net.post(
        tenant.base_url + "/license_keys",
        json=body,
        headers={**keyed(key), "Authorization": "Bearer lk_test_unknown"},
    )
    assert bad.status_code == 401
    with tenant.http() as http:
        good = http.post("/license_keys", json=body, headers=keyed(key))
        again = http.post("/license_keys", json=body, headers=keyed(key))
    assert good.status_code == 201, good.text
    assert "idempotent-replayed" not in good.headers
    assert again.headers["idempotent-replayed"] == "true"


# -- claims in flight, and claims whose process died ------------------------------------


def plant_claim(
    server: Server, tenant: Tenant, key: str, path: str, body: bytes, lease: timedelta
) -> None:
    """A claim as a request in flight leaves it (or, lease run out, as a dead process)."""
    scope = {"method": "POST", "path": "/test" + path, "query_string": b""}

    async def work(ctx: AppContext, session: AsyncSession) -> None:
        now = utcnow()
        session.add(
            IdempotencyKey(
                id=f"idk_{uuid.uuid4().hex[:24]}",
                business_id=tenant.business_id,
                mode="test",
                key_hash=ctx.vault.lookup_hash(key, KEY_PURPOSE),
                fingerprint=fingerprint(scope, body),
                lease_token="planted",
                locked_until=now + lease,
                created_at=now,
                expires_at=now + timedelta(hours=24),
            )
        )

    in_db(server, work)


def test_in_use_then_a_dead_claim_expires(
    server: Server, tenant: Tenant, catalog: tuple[str, str]
) -> None:
    product_id, customer_id = catalog
    body = f'{{"customer_id":"{customer_id}","product_id":"{product_id}"}}'.encode()
    headers = {"Content-Type": "application/json"}
    running, dead = new_key(), new_key()
    plant_claim(server, tenant, running, "/license_keys", body, timedelta(minutes=5))
    plant_claim(server, tenant, dead, "/license_keys", body, -timedelta(seconds=1))
    with tenant.http() as http:
        busy = http.post("/license_keys", content=body, headers={**headers, **keyed(running)})
        taken = http.post("/license_keys", content=body, headers={**headers, **keyed(dead)})
        replay = http.post("/license_keys", content=body, headers={**headers, **keyed(dead)})
    assert busy.status_code == 409, busy.text
    assert busy.json()["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert taken.status_code == 201, taken.text
    assert (replay.status_code, replay.content) == (201, taken.content)
    assert [k["id"] for k in keys_of(tenant, product_id)] == [taken.json()["id"]]


def test_in_use_while_the_first_request_waits(
    server: Server, tenant: Tenant, catalog: tuple[str, str]
) -> None:
    """PostgreSQL: the first request really is running (held on a table lock)."""
    if server.backend != "postgres":
        pytest.skip("SQLite has one writer: a held lock holds the claim too (see the planted test)")
    product_id, customer_id = catalog
    body = {"customer_id": customer_id, "product_id": product_id}
    key = new_key()

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        ctx = AppContext.from_settings(server.settings)
        try:
            async with ctx.db.write_sessions() as session, session.begin():
                await session.execute(text("LOCK TABLE license_keys IN EXCLUSIVE MODE"))
                async with net.async_client(
                    base_url=tenant.base_url,
                    headers={"Authorization": f"Bearer {tenant.api_key}"},
                    timeout=30,
                ) as http:
                    first = asyncio.create_task(
                        http.post("/license_keys", json=body, headers=keyed(key))
                    )
                    for _ in range(100):  # until the first request's claim is committed
                        claimed = await in_flight(server, tenant)
                        if claimed:
                            break
                        await asyncio.sleep(0.05)
                    retry = await http.post("/license_keys", json=body, headers=keyed(key))
                    await session.commit()  # lets the first request go on
                    done = await first
                    after = await http.post("/license_keys", json=body, headers=keyed(key))
                    return retry, done, after
        finally:
            await ctx.close()

    retry, done, after = asyncio.run(scenario())
    assert retry.status_code == 409
    assert retry.json()["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert done.status_code == 201, done.text
    assert (after.status_code, after.content) == (201, done.content)


async def in_flight(server: Server, tenant: Tenant) -> bool:
    ctx = AppContext.from_settings(server.settings)
    try:
        async with ctx.db.read_sessions() as session:
            row = await session.scalar(
                select(IdempotencyKey.id).where(
                    IdempotencyKey.business_id == tenant.business_id,
                    IdempotencyKey.completed_at.is_(None),
                )
            )
            return row is not None
    finally:
        await ctx.close()


# -- two server processes on one database ------------------------------------------------


@pytest.fixture(scope="module")
def pair(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"idem-{backend}")
    with own_server(backend, data_dir, _postgres_checked, count=2, env=RAISED_LIMITS) as srv:
        yield srv


def test_one_license_across_two_processes(pair: Server) -> None:
    tenant = pair.tenant()
    product_id, customer_id = make_product(tenant), make_customer(tenant)
    body = {"customer_id": customer_id, "product_id": product_id}
    key, n = new_key(), 12

    async def fire() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {tenant.api_key}", **keyed(key)}
        clients = [
            net.async_client(base_url=url, headers=headers, timeout=60)
            for url in pair.faces("test")
        ]
        start = asyncio.Event()

        async def one(i: int) -> httpx.Response:
            await start.wait()
            return await clients[i % 2].post("/license_keys", json=body)

        try:
            tasks = [asyncio.create_task(one(i)) for i in range(n)]
            await asyncio.sleep(0.05)
            start.set()
            return await asyncio.gather(*tasks)
        finally:
            for client in clients:
                await client.aclose()

    answers = asyncio.run(fire())
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {201, 409}, statuses
    created = {r.content for r in answers if r.status_code == 201}
    assert len(created) == 1
    assert all(
        r.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" for r in answers if r.status_code == 409
    )
    assert [k["id"] for k in keys_of(tenant, product_id)] == [
        httpx.Response(201, content=created.pop()).json()["id"]
    ]
    # and a retry on either process, once done, is the first answer
    with tenant.http() as http:
        replay = http.post("/license_keys", json=body, headers=keyed(key))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"


# -- the documented SDK example (docs/events.md, "Idempotency") --------------------------


def test_sdk_example_from_the_docs(tenant: Tenant, catalog: tuple[str, str]) -> None:
    product_id, customer_id = catalog
    client = tenant.sdk()
    order_id = unique("order")
    # --8<-- docs/events.md
    license_key = client.license_keys.create(
        customer_id=customer_id,
        product_id=product_id,
        key=f"KEY-{order_id}",
        extra_headers={"Idempotency-Key": f"order-{order_id}-license"},
    )
    # --8<--
    again = client.license_keys.create(
        customer_id=customer_id,
        product_id=product_id,
        key=f"KEY-{order_id}",
        extra_headers={"Idempotency-Key": f"order-{order_id}-license"},
    )
    assert again.id == license_key.id
    assert [k["id"] for k in keys_of(tenant, product_id)] == [license_key.id]
