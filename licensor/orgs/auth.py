"""Who is calling: an organisation member, by a bearer session or personal access token.

The token's member belongs to exactly one organisation, which is the one addressed.
A caller may also name it in `X-Organization-Id`: another existing organisation of the
same business is a 403 (not a member), an unknown one a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.camel import plausible_id
from licensor.kit.clock import utcnow
from licensor.kit.deps import Ctx
from licensor.kit.errors import Forbidden, NotFound, Unauthorized
from licensor.kit.secrets import constant_time_equal
from licensor.kit.tenancy import face_mode
from licensor.models import Customer, MemberToken, OrgMember
from licensor.orgs import repository
from licensor.orgs.secrets import PREFIXES, TOKEN_PURPOSE

_bearer = HTTPBearer(
    auto_error=False,
    description="A member's session token (`lks_…`) or personal access token (`lkp_…`)",
)


@dataclass(frozen=True)
class Caller:
    member_id: str
    business_id: str
    mode: str
    org_id: str
    role: str
    token_id: str


async def authenticate_member(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_organization_id: Annotated[
        str | None,
        Header(description="Optional: the organisation addressed (must be the token's own)"),
    ] = None,
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing token: send `Authorization: Bearer <token>`")
    secret = credentials.credentials.strip()
    if len(secret) > 200 or secret[:4] not in (PREFIXES["session"], PREFIXES["personal"]):
        raise Unauthorized("invalid token", code="INVALID_TOKEN")
    digest = ctx.vault.lookup_hash(secret, TOKEN_PURPOSE)
    stmt = (
        select(MemberToken, OrgMember)
        .join(OrgMember, OrgMember.id == MemberToken.member_id)
        .where(MemberToken.token_hash == digest)
    )
    async with ctx.db.read_sessions() as session:
        found = (await session.execute(stmt)).first()
        if found is None:
            raise Unauthorized("invalid token", code="INVALID_TOKEN")
        token, member = found
        if (
            not constant_time_equal(token.token_hash, digest)
            or token.kind == "invite"
            or member.mode != face_mode(request.scope)  # another mode's token is unknown here
        ):
            raise Unauthorized("invalid token", code="INVALID_TOKEN")
        if token.revoked_at is not None:
            raise Unauthorized("this token has been revoked", code="TOKEN_REVOKED")
        if token.expires_at <= utcnow():
            raise Unauthorized("this token has expired", code="TOKEN_EXPIRED")
        if x_organization_id is not None and x_organization_id != member.customer_id:
            other = (
                await session.get(Customer, x_organization_id)
                if plausible_id(x_organization_id)
                else None
            )
            if (
                other is None
                or other.business_id != member.business_id
                or other.mode != member.mode
            ):
                raise NotFound(
                    f"organisation {x_organization_id} not found", code="ORGANIZATION_NOT_FOUND"
                )
            raise Forbidden("you are not a member of this organisation", code="NOT_A_MEMBER")
    request.state.actor = f"member:{member.id}"  # the audit log's actor
    return Caller(
        member_id=member.id,
        business_id=member.business_id,
        mode=member.mode,
        org_id=member.customer_id,
        role=member.role,
        token_id=token.id,
    )


def require_role(caller: Caller, *roles: str) -> None:
    if caller.role not in roles:
        who = " or ".join(roles)
        raise Forbidden(f"only the organisation's {who} may do this", code="ROLE_REQUIRED")


async def confirm(session: AsyncSession, caller: Caller, *roles: str) -> Caller:
    """The caller as of now, inside the request's write transaction; first thing it does.

    Authentication read the member before the transaction began, so a concurrent demotion,
    removal or revocation may have committed since. This locks the organisation's row
    (PostgreSQL; SQLite's write lock already serialises), so the member writes of one
    organisation run one at a time, then re-reads the member and the token: a removed
    member or revoked token is 401, a role no longer held 403.
    """
    await session.execute(
        select(Customer.id).where(Customer.id == caller.org_id).with_for_update(key_share=True)
    )
    member = await repository.locked_member(session, caller.member_id)
    token = await session.get(MemberToken, caller.token_id, populate_existing=True)
    if member is None or member.customer_id != caller.org_id or token is None:
        raise Unauthorized("invalid token", code="INVALID_TOKEN")
    if token.revoked_at is not None:
        raise Unauthorized("this token has been revoked", code="TOKEN_REVOKED")
    if token.expires_at <= utcnow():
        raise Unauthorized("this token has expired", code="TOKEN_EXPIRED")
    now = replace(caller, role=member.role)
    if roles:
        require_role(now, *roles)
    return now


MemberAuth = Annotated[Caller, Depends(authenticate_member)]
