"""A 5xx answer is kept and replayed like any other (Stripe's rule; docs/events.md,
"Idempotency"): the request's database connection is cut while it runs, a real outage
the route answers with `500 INTERNAL_ERROR`; the retry with the same key gets that answer
again and runs nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text

from licensor.kit.context import AppContext
from tests import net
from tests.helpers import make_customer, make_product
from tests.servers import Server, Tenant

WAITING = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
)


def test_a_5xx_answer_is_kept_and_replayed(server: Server, tenant: Tenant) -> None:
    if server.backend != "postgres":
        pytest.skip(
            "SQLite has one writer and no server to lose: nothing outside the process can "
            "fail one running request without failing its claim first"
        )
    body = {"customer_id": make_customer(tenant), "product_id": make_product(tenant)}
    key = {"Idempotency-Key": f"idem-{uuid.uuid4()}"}
    auth = {"Authorization": f"Bearer {tenant.api_key}"}

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        ctx = AppContext.from_settings(server.settings)
        try:
            async with net.async_client(base_url=tenant.base_url, headers=auth, timeout=30) as http:
                async with ctx.db.write_sessions() as session, session.begin():
                    # The request's INSERT waits on this lock; then its connection is cut.
                    await session.execute(text("LOCK TABLE license_keys IN EXCLUSIVE MODE"))
                    first = asyncio.create_task(http.post("/license_keys", json=body, headers=key))
                    pid = None
                    for _ in range(200):
                        pid = await session.scalar(text(WAITING))
                        if pid is not None:
                            break
                        await asyncio.sleep(0.05)
                    assert pid is not None, "the request never waited on the lock"
                    await session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                    failed = await first
                retry = await http.post("/license_keys", json=body, headers=key)
                listed = await http.get("/license_keys", params={"product_id": body["product_id"]})
                return failed, retry, listed
        finally:
            await ctx.close()

    failed, retry, listed = asyncio.run(scenario())
    assert failed.status_code == 500, failed.text
    assert failed.json()["code"] == "INTERNAL_ERROR"
    assert (retry.status_code, retry.content) == (500, failed.content)
    assert retry.headers["idempotent-replayed"] == "true"
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []  # the retry ran nothing
