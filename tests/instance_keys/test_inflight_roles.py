"""A demoted or removed member's request already in flight does not run with the old role.

The request authenticates (a read) before its write transaction begins. Here the test
holds the database (SQLite: the write lock; PostgreSQL: the organisation's row, which
every member insert's foreign-key check needs) while it demotes or removes the admin,
sends the admin's request, which authenticates as an admin and then waits, and commits.
The request must then see the change: it may not create a new admin with a password of
its choosing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import httpx
import pytest

from licensor.kit.db import sqlite_path
from tests import net
from tests.instance_keys.helpers import PASSWORD, bearer, org_with_people
from tests.servers import Server, Tenant

MEMBERS = "/api/v1/organization/members"
CHANGES = {
    "demoted": ("UPDATE org_members SET role = 'member' WHERE id = {}", 403, "ROLE_REQUIRED"),
    "removed": ("DELETE FROM org_members WHERE id = {}", 401, "INVALID_TOKEN"),
}


async def while_held(
    server: Server,
    org_id: str,
    change: str,
    member_id: str,
    send: Callable[[], Coroutine[Any, Any, httpx.Response]],
) -> httpx.Response:
    """Make `change` in a transaction that holds up member writes; send; then commit."""
    url = server.settings.resolved_database_url
    if server.backend == "sqlite":
        lite = sqlite3.connect(sqlite_path(url), isolation_level=None, timeout=10)
        lite.execute("PRAGMA foreign_keys=ON")
        lite.execute("BEGIN IMMEDIATE")
        lite.execute(change.format("?"), (member_id,))
        commit: Callable[[], Awaitable[None]]

        async def commit() -> None:
            lite.execute("COMMIT")
            lite.close()

    else:
        pg = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        tx = pg.transaction()
        await tx.start()
        await pg.execute("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", org_id)
        await pg.execute(change.format("$1"), member_id)

        async def commit() -> None:
            await tx.commit()
            await pg.close()

    task = asyncio.create_task(send())
    await asyncio.sleep(1.5)  # the request authenticates (as an admin), then waits
    assert not task.done(), "the request should be waiting for the database"
    await commit()
    return await task


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_in_flight_request_sees_the_new_role(server: Server, tenant: Tenant, what: str) -> None:
    org = org_with_people(tenant, roles=("admin",))
    change, status, code = CHANGES[what]
    chosen = f"chosen-{uuid.uuid4().hex[:6]}@example.test"

    async def send() -> httpx.Response:
        async with net.async_client(base_url=tenant.base_url, timeout=30) as client:
            return await client.post(
                MEMBERS,
                json={"email": chosen, "role": "admin", "password": PASSWORD},
                headers=bearer(org.tokens["admin"]),
            )

    answer = asyncio.run(while_held(server, org.id, change, org.member_ids["admin"], send))
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    listed = net.get(tenant.base_url + MEMBERS, headers=bearer(org.tokens["owner"]))
    assert chosen not in {m["email"] for m in listed.json()["items"]}
