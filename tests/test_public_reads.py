"""Nothing unauthenticated takes a write lock.

A request reads until it has proved who it is: a wrong password, an unknown email, a
garbage invite, activation code or license key, and the JWKS GET answer from reads
alone. On SQLite this test holds the database-wide write lock itself while it sends
them: each must still answer at once (before, each waited for the lock, then failed with
"database is locked"). On both backends the JWKS GET creates no key.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.db import sqlite_path
from licensor.kit.ids import new_id
from licensor.models import Business, SigningKey
from tests import net
from tests.instance_keys.helpers import PASSWORD, in_db, org_with_people
from tests.servers import Server, Tenant

WAIT = 5.0  # well under the server's 10 s busy timeout


@contextmanager
def write_lock_held(server: Server) -> Iterator[None]:
    lite = sqlite3.connect(sqlite_path(server.settings.resolved_database_url), timeout=10)
    lite.isolation_level = None
    lite.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lite.execute("ROLLBACK")
        lite.close()


def keyless_business(server: Server) -> str:
    """A business as one created before bootstrap made its signing keys."""

    async def work(session: AsyncSession) -> str:
        row = Business(id=new_id("bus"), name="Old shop", brand_id=new_id("brd"))
        session.add(row)
        await session.flush()
        return row.id

    return in_db(server, work)


def key_count(server: Server, business_id: str) -> int:
    async def work(session: AsyncSession) -> int:
        stmt = select(func.count()).where(SigningKey.business_id == business_id)
        return int((await session.execute(stmt)).scalar_one())

    return in_db(server, work)


def test_unauthenticated_requests_answer_while_the_write_lock_is_held(
    server: Server, tenant: Tenant
) -> None:
    if server.backend != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock; test_flood covers it")
    org = org_with_people(tenant, roles=())
    with net.client(base_url=tenant.base_url, timeout=30) as http:
        owner = http.get(
            "/api/v1/organization/members",
            headers={"Authorization": f"Bearer {org.tokens['owner']}"},
        ).json()["items"][0]["email"]
    old = keyless_business(server)
    seat = {
        "license_key": "NOT-A-KEY",
        "instance_id": "i-1",
        "timestamp": datetime.now(UTC).isoformat(),
        "billable_users_count": 1,
        "max_historical_users_count": 1,
    }
    biz = {"businessId": tenant.business_id}
    calls = [
        ("/api/v1/auth/login", {"email": owner, "password": "wrong password", **biz}, 401),
        ("/api/v1/auth/login", {"email": "nobody@example.test", "password": "x", **biz}, 401),
        ("/api/v1/auth/accept-invite", {"inviteToken": "lkv_nope", "password": PASSWORD}, 401),
        ("/cloud/activate", {"activation_code": "GARBAGE", "instance_id": "i-1"}, 404),
        ("/cloud/seat_links", seat, 404),
    ]
    with write_lock_held(server), net.client(base_url=tenant.base_url, timeout=WAIT) as http:
        for path, body, status in calls:
            answer = http.post(path, json=body)
            assert answer.status_code == status, (path, answer.text)
        jwks = http.get(f"/.well-known/jwks/{old}/test.json")
        assert jwks.status_code == 200, jwks.text
        assert jwks.json() == {"keys": []}
        listed = http.get(f"/.well-known/licensor/{tenant.business_id}/revocations.json")
        assert listed.status_code == 200, listed.text


def test_jwks_only_reads(server: Server, tenant: Tenant) -> None:
    old = keyless_business(server)
    for mode in ("test", "live"):  # each face serves its own mode's keys
        with net.client(base_url=server.face(mode), timeout=30) as http:
            answer = http.get(f"/.well-known/jwks/{old}/{mode}.json")
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"keys": []}
            # a bootstrapped business has its keys before anything was signed
            keys = http.get(f"/.well-known/jwks/{tenant.business_id}/{mode}.json").json()["keys"]
            assert [k["kty"] for k in keys] == ["OKP"]
            missing = http.get(f"/.well-known/jwks/bus_{uuid.uuid4().hex[:8]}/{mode}.json")
            assert missing.status_code == 404
            # nor does the revocation list make the key it would be signed with
            unsigned = http.get(f"/.well-known/licensor/{old}/revocations.json")
            assert (unsigned.status_code, unsigned.json()["code"]) == (404, "SIGNING_KEY_NOT_FOUND")
    assert key_count(server, old) == 0
