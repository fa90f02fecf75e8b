"""Test helpers: organisations with their people, and plan/subscription rows written
directly through the ORM (their API belongs to another area)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.ids import new_id
from licensor.models import MemberToken, Plan, Subscription
from tests import net
from tests.servers import Server, Tenant

T = TypeVar("T")
PASSWORD = "correct horse battery staple"


def in_db(server: Server, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        ctx = AppContext.from_settings(server.settings)
        try:
            async with ctx.db.write_sessions() as session, session.begin():
                return await work(session)
        finally:
            await ctx.close()

    return asyncio.run(run())


def make_plan(server: Server, tenant: Tenant, code: str, features: list[str]) -> str:
    async def work(session: AsyncSession) -> str:
        plan = Plan(
            id=new_id("pln"),
            business_id=tenant.business_id,
            mode="test",
            code=f"{code}-{uuid.uuid4().hex[:6]}",
            name=code.title(),
            features=features,
        )
        session.add(plan)
        await session.flush()
        return plan.id

    return in_db(server, work)


def subscribe(
    server: Server,
    tenant: Tenant,
    org_id: str,
    plan_id: str,
    *,
    starts_at: datetime,
    expires_at: datetime | None = None,
    cancelled_at: datetime | None = None,
) -> str:
    async def work(session: AsyncSession) -> str:
        row = Subscription(
            id=new_id("sub"),
            business_id=tenant.business_id,
            mode="test",
            customer_id=org_id,
            plan_id=plan_id,
            users_count=5,
            starts_at=starts_at,
            expires_at=expires_at,
            cancelled_at=cancelled_at,
        )
        session.add(row)
        await session.flush()
        return row.id

    return in_db(server, work)


def change_subscription(server: Server, subscription_id: str, **values: Any) -> None:
    async def work(session: AsyncSession) -> None:
        stmt = update(Subscription).where(Subscription.id == subscription_id).values(**values)
        await session.execute(stmt)

    in_db(server, work)


def expire_token(server: Server, token_id: str, when: datetime) -> None:
    async def work(session: AsyncSession) -> None:
        stmt = update(MemberToken).where(MemberToken.id == token_id).values(expires_at=when)
        await session.execute(stmt)

    in_db(server, work)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Org:
    id: str
    tokens: dict[str, str] = field(default_factory=dict)  # role name -> bearer token
    member_ids: dict[str, str] = field(default_factory=dict)


def new_org(tenant: Tenant, name: str = "Acme") -> str:
    with tenant.http() as http:
        email = f"billing-{uuid.uuid4().hex[:6]}@example.test"
        r = http.post("/customers", json={"email": email, "name": name})
        assert r.status_code == 200, r.text
        return str(r.json()["customer_id"])


def login(tenant: Tenant, email: str, org_id: str | None = None) -> dict[str, Any]:
    """Sign in to the tenant's business (and the organisation, when given)."""
    body = {"email": email, "password": PASSWORD, "businessId": tenant.business_id}
    if org_id:
        body["organizationId"] = org_id
    r = net.post(tenant.base_url + "/api/v1/auth/login", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def org_with_people(tenant: Tenant, roles: tuple[str, ...] = ("admin", "member")) -> Org:
    """An organisation with an owner (added by the vendor) and, per role, one signed-in person."""
    org = Org(new_org(tenant))
    owner_email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with tenant.http() as http:
        r = http.post(
            f"/api/v1/organizations/{org.id}/owner",
            json={"email": owner_email, "password": PASSWORD},
        )
        assert r.status_code == 201, r.text
    session = login(tenant, owner_email)
    org.tokens["owner"] = session["token"]
    org.member_ids["owner"] = session["memberId"]
    for role in roles:
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.test"
        r = net.post(
            tenant.base_url + "/api/v1/organization/members",
            json={"email": email, "role": role, "password": PASSWORD},
            headers=bearer(org.tokens["owner"]),
        )
        assert r.status_code == 201, r.text
        session = login(tenant, email)
        org.tokens[role] = session["token"]
        org.member_ids[role] = session["memberId"]
    return org


def personal_token(base_url: str, token: str) -> dict[str, Any]:
    r = net.post(
        base_url + "/api/v1/auth/tokens", json={"name": "ci"}, headers=bearer(token), timeout=30
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def now() -> datetime:
    return utcnow()
