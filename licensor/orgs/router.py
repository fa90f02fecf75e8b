"""Members of customer organisations sign in, manage each other and their tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from licensor.auth.dependencies import Auth
from licensor.config import Settings
from licensor.kit.context import AppContext
from licensor.kit.deps import Ctx, ReadSession, WriteSession, reading, request_origin, writing
from licensor.kit.errors import error_responses
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.models import MemberToken, OrgMember
from licensor.orgs import repository, service
from licensor.orgs.auth import MemberAuth, confirm, require_role
from licensor.orgs.schemas import (
    AcceptInviteIn,
    LoginIn,
    MemberCreate,
    MemberCreated,
    MemberList,
    MemberOut,
    OwnerCreate,
    RoleUpdate,
    SessionOut,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
    TransferIn,
)

router = APIRouter(prefix="/api/v1", tags=["Organisations"])
MANAGERS = ("owner", "admin")


def member_out(row: OrgMember) -> MemberOut:
    return MemberOut(
        id=row.id,
        organization_id=row.customer_id,
        email=row.email,
        role=row.role,
        status="active" if row.password_hash else "invited",
        created_at=row.created_at,
    )


def created_out(done: service.NewMember) -> MemberCreated:
    invite = done.invite
    return MemberCreated(
        **member_out(done.member).model_dump(),
        invite_token=invite.secret if invite else None,
        invite_expires_at=invite.row.expires_at if invite else None,
    )


def token_out(row: MemberToken) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        prefix=row.display_prefix + "…",
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
    )


def session_out(member: OrgMember, issued: service.IssuedToken) -> SessionOut:
    return SessionOut(
        token=issued.secret,
        expires_at=issued.row.expires_at,
        member_id=member.id,
        organization_id=member.customer_id,
        role=member.role,
    )


async def _hash(ctx: AppContext, password: str | None) -> str | None:
    return await ctx.passwords.hash(password) if password else None


def _session_ttl(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.member_session_seconds)


@router.post(
    "/organizations/{organization_id}/owner",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 404, 409, 422),
    summary="Vendor (API key): add an organisation's first owner",
)
async def add_owner(
    organization_id: str, body: OwnerCreate, who: Auth, ctx: Ctx, session: WriteSession
) -> MemberCreated:
    hashed = await _hash(ctx, body.password)  # before the first query: no transaction open yet
    org = await service.find_org(session, who.business_id, who.mode, organization_id)
    return created_out(await service.add_owner(session, ctx.vault, org, body.email, hashed))


def _account(body: LoginIn) -> str:
    """The rate limiter's name for the account a sign-in tries (its tenant and email)."""
    tenant = body.organization_id or body.business_id or ""
    return f"{tenant}\x00{body.email.strip().lower()}"


@router.post("/auth/login", responses=error_responses(400, 401, 422, 429), summary="Sign in")
async def login(body: LoginIn, request: Request, ctx: Ctx) -> SessionOut:
    # Read, verify the password with no transaction open, and only then write: a wrong
    # password (or an unknown email, which still costs one argon2 verify) never takes
    # the write lock. The limiter counts first, before any lookup or argon2.
    async with limited(request, "login", _account(body)):
        async with reading(ctx.db) as session:
            found = await service.login_candidate(
                session,
                body.email,
                face_mode(request.scope),
                body.business_id,
                body.organization_id,
            )
        verified = await ctx.passwords.verify(found.password_hash if found else None, body.password)
        if found is None or not verified:
            raise service.wrong_credentials()
        async with writing(ctx.db, request_origin(request)) as session:
            member, issued = await service.start_session(
                session, ctx.vault, found, _session_ttl(ctx.settings)
            )
            return session_out(member, issued)


@router.post(
    "/auth/accept-invite",
    responses=error_responses(401, 422, 429),
    summary="Set a first password with an invite token, and sign in",
)
async def accept_invite(body: AcceptInviteIn, request: Request, ctx: Ctx) -> SessionOut:
    async with limited(request, "invite", body.invite_token):
        async with reading(ctx.db) as session:
            invite_id = await service.invite_of(
                session, ctx.vault, body.invite_token, face_mode(request.scope)
            )
        password_hash = await ctx.passwords.hash(body.password)  # outside any transaction
        async with writing(ctx.db, request_origin(request)) as session:
            member, issued = await service.accept_invite(
                session, ctx.vault, invite_id, password_hash, _session_ttl(ctx.settings)
            )
            return session_out(member, issued)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
    summary="Revoke the token of this request",
)
async def logout(caller: MemberAuth, session: WriteSession) -> Response:
    caller = await confirm(session, caller)
    await service.revoke_token(session, caller.org_id, caller.token_id, member_id=caller.member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/tokens", responses=error_responses(401, 403, 404), summary="My tokens")
async def list_tokens(caller: MemberAuth, session: ReadSession) -> TokenList:
    return TokenList(
        items=[token_out(t) for t in await repository.tokens_of(session, caller.member_id)]
    )


@router.post(
    "/auth/tokens",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 422),
    summary="Create a personal access token (shown once)",
)
async def create_token(
    body: TokenCreate, caller: MemberAuth, ctx: Ctx, session: WriteSession
) -> TokenCreated:
    caller = await confirm(session, caller)
    issued = await service.issue_token(
        session,
        ctx.vault,
        caller.member_id,
        "personal",
        body.name,
        timedelta(days=body.expires_in_days),
    )
    return TokenCreated(**token_out(issued.row).model_dump(), token=issued.secret)


@router.delete(
    "/auth/tokens/{token_id}",
    responses=error_responses(401, 403, 404),
    summary="Revoke a token (your own; owners and admins: any of the organisation's)",
)
async def revoke_token(token_id: str, caller: MemberAuth, session: WriteSession) -> TokenOut:
    caller = await confirm(session, caller)
    only = None if caller.role in MANAGERS else caller.member_id
    return token_out(await service.revoke_token(session, caller.org_id, token_id, member_id=only))


@router.get(
    "/organization/members", responses=error_responses(401, 403, 404), summary="List members"
)
async def list_members(caller: MemberAuth, session: ReadSession) -> MemberList:
    return MemberList(
        items=[member_out(m) for m in await repository.members(session, caller.org_id)]
    )


@router.post(
    "/organization/members",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Owner or admin: add or invite a member",
)
async def add_member(
    body: MemberCreate, caller: MemberAuth, ctx: Ctx, session: WriteSession
) -> MemberCreated:
    require_role(caller, *MANAGERS)  # as authenticated, before the (costly) hash
    hashed = await _hash(ctx, body.password)  # before the first query: no transaction open yet
    caller = await confirm(session, caller, *MANAGERS)
    org = await service.find_org(session, caller.business_id, caller.mode, caller.org_id)
    done = await service.add_member(session, ctx.vault, org, body.email, body.role, hashed)
    return created_out(done)


@router.patch(
    "/organization/members/{member_id}",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Owner or admin: change a member's role (admin or member)",
)
async def change_role(
    member_id: str, body: RoleUpdate, caller: MemberAuth, session: WriteSession
) -> MemberOut:
    caller = await confirm(session, caller, *MANAGERS)
    return member_out(await service.set_role(session, caller.org_id, member_id, body.role))


@router.delete(
    "/organization/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409),
    summary="Owner or admin: remove a member (their tokens stop working)",
)
async def remove_member(member_id: str, caller: MemberAuth, session: WriteSession) -> Response:
    caller = await confirm(session, caller, *MANAGERS)
    await service.remove_member(session, caller.org_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/organization/transfer-ownership",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Owner: hand ownership to another member; the old owner becomes an admin",
)
async def transfer_ownership(
    body: TransferIn, caller: MemberAuth, session: WriteSession
) -> MemberOut:
    caller = await confirm(session, caller, "owner")
    return member_out(
        await service.transfer_ownership(
            session, caller.org_id, body.member_id, by=caller.member_id
        )
    )
