"""A read-only transaction (`kit/deps.py` `reading`) sees one snapshot on both backends:
a row committed by another connection between two of its statements is not seen until
the next transaction. Without it, a check of several reads could see a row appear
between two of them: the cloud activation's pre-check counted a slot taken by a
concurrent activation of the same instance whose row its first read had not yet seen,
and answered 409."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from licensor.kit.context import AppContext
from licensor.kit.deps import reading
from licensor.models import Customer
from tests.servers import Server


def test_a_read_transaction_sees_one_snapshot(server: Server) -> None:
    tenant = server.tenant()

    async def go(ctx: AppContext) -> tuple[int, int, int]:
        count = select(func.count()).select_from(Customer)
        count = count.where(Customer.business_id == tenant.business_id)
        async with reading(ctx.db) as session:
            before = int(await session.scalar(count) or 0)
            with tenant.http() as http:  # another connection (the server's) commits a row
                email = f"snap-{uuid.uuid4().hex[:8]}@example.test"
                made = http.post("/customers", json={"email": email, "name": "Snap"})
                assert made.status_code == 200, made.text
            within = int(await session.scalar(count) or 0)
        async with reading(ctx.db) as session:
            after = int(await session.scalar(count) or 0)
        return before, within, after

    before, within, after = server.run(go)
    assert within == before  # the same snapshot throughout the transaction
    assert after == before + 1  # and the next transaction sees the commit
