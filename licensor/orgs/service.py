"""Rules of organisation membership and member tokens. Services only flush.

An organisation is a customer of the vendor business. It has exactly one owner
(enforced by a partial unique index); owners and admins manage the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.audit.chain import MASK
from licensor.kit.clock import utcnow
from licensor.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.models import Customer, MemberToken, OrgMember
from licensor.orgs import repository
from licensor.orgs.errors import OwnerByTransfer
from licensor.orgs.secrets import TOKEN_PURPOSE, display_prefix, new_token

INVITE_TTL = timedelta(days=7)


@dataclass(frozen=True)
class IssuedToken:
    row: MemberToken
    secret: str  # shown once, never stored


@dataclass(frozen=True)
class NewMember:
    member: OrgMember
    invite: IssuedToken | None


async def find_org(session: AsyncSession, business_id: str, mode: str, org_id: str) -> Customer:
    org = await repository.organisation(session, business_id, mode, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id} not found", code="ORGANIZATION_NOT_FOUND")
    return org


async def find_member(session: AsyncSession, org_id: str, member_id: str) -> OrgMember:
    row = await repository.member(session, org_id, member_id)
    if row is None:
        raise NotFound(f"member {member_id} not found", code="MEMBER_NOT_FOUND")
    return row


async def issue_token(
    session: AsyncSession, vault: Vault, member_id: str, kind: str, name: str, ttl: timedelta
) -> IssuedToken:
    secret = new_token(kind)
    row = MemberToken(
        id=new_id("tok"),
        member_id=member_id,
        kind=kind,
        name=name,
        display_prefix=display_prefix(secret),
        token_hash=vault.lookup_hash(secret, TOKEN_PURPOSE),
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    await session.flush()
    member = await session.get(OrgMember, member_id)
    if member is not None:
        audit.record(
            session,
            business_id=member.business_id,
            mode=member.mode,
            action="member_token.created",
            target_type="member_token",
            target_id=row.id,
            changes=audit.created(
                {"member_id": member_id, "kind": kind, "name": name, "expires_at": row.expires_at}
            ),
            actor=f"member:{member_id}" if kind == "session" else None,  # signing in
        )
    return IssuedToken(row, secret)


async def _add(
    session: AsyncSession,
    vault: Vault,
    org: Customer,
    email: str,
    role: str,
    password_hash: str | None,
) -> NewMember:
    """`password_hash`: argon2id, made before the transaction began (None: an invite)."""
    email = email.strip().lower()
    if await repository.member_by_email(session, org.id, email) is not None:
        raise Conflict(f"{email} is already a member", code="MEMBER_EXISTS")
    row = OrgMember(
        id=new_id("mem"),
        business_id=org.business_id,
        mode=org.mode,
        customer_id=org.id,
        email=email,
        role=role,
        password_hash=password_hash,
    )
    session.add(row)
    await session.flush()  # a concurrent same member or owner: kit/integrity's 409
    audit.creation(session, row, "member.added", MEMBER_FIELDS)
    invite = None
    if password_hash is None:
        invite = await issue_token(session, vault, row.id, "invite", "invitation", INVITE_TTL)
    return NewMember(row, invite)


MEMBER_FIELDS = ("customer_id", "email", "role")


async def add_owner(
    session: AsyncSession, vault: Vault, org: Customer, email: str, password_hash: str | None
) -> NewMember:
    """The vendor adds an organisation's first owner; later changes are transfers."""
    if await repository.owner(session, org.id, lock=True) is not None:
        raise Conflict("this organisation already has an owner", code="OWNER_EXISTS")
    return await _add(session, vault, org, email, "owner", password_hash)


async def add_member(
    session: AsyncSession,
    vault: Vault,
    org: Customer,
    email: str,
    role: str,
    password_hash: str | None,
) -> NewMember:
    if role == "owner":
        raise OwnerByTransfer("use an ownership transfer to make an owner")
    return await _add(session, vault, org, email, role, password_hash)


async def set_role(session: AsyncSession, org_id: str, member_id: str, role: str) -> OrgMember:
    row = await find_member(session, org_id, member_id)
    if row.role == "owner" or role == "owner":
        raise OwnerByTransfer("the owner changes only by an ownership transfer")
    before = audit.snapshot(row, MEMBER_FIELDS)
    row.role = role
    await session.flush()
    audit.change(session, row, "member.role_changed", MEMBER_FIELDS, before)
    return row


async def remove_member(session: AsyncSession, org_id: str, member_id: str) -> OrgMember:
    row = await find_member(session, org_id, member_id)
    if row.role == "owner":
        raise OwnerByTransfer("the owner cannot be removed; transfer ownership first")
    gone = audit.removed(audit.snapshot(row, MEMBER_FIELDS))
    await session.delete(row)
    await session.flush()
    audit.event(session, row, "member.removed", gone)
    return row


async def transfer_ownership(
    session: AsyncSession, org_id: str, new_owner_id: str, *, by: str | None = None
) -> OrgMember:
    """Demote the owner to admin, then promote the new one, in the caller's transaction.

    `by`: the member asking, who must still be the owner once the owner row is locked
    (a concurrent transfer may have moved ownership since the request was authenticated).
    """
    current = await repository.owner(session, org_id, lock=True)
    if by is not None and (current is None or current.id != by):
        raise Forbidden("only the organisation's owner may do this", code="ROLE_REQUIRED")
    target = await find_member(session, org_id, new_owner_id)
    if current is not None and current.id == target.id:
        return target
    if target.password_hash is None:
        raise Conflict("the new owner has not accepted the invitation", code="MEMBER_INVITED")
    try:
        if current is not None:
            current.role = "admin"
            await session.flush()
        target.role = "owner"
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("ownership changed concurrently; retry", code="CONFLICT") from exc
    if current is not None:
        demoted = audit.changes_of({"role": ("owner", "admin")})
        audit.event(session, current, "member.role_changed", demoted)
    audit.event(session, target, "member.role_changed", audit.changes_of({"role": (None, "owner")}))
    return target


@dataclass(frozen=True)
class Candidate:
    """What a sign-in read: the member, and the password hash it is checked against."""

    member_id: str
    password_hash: str | None


async def login_candidate(
    session: AsyncSession, email: str, mode: str, business_id: str | None, org_id: str | None
) -> Candidate | None:
    """The member a sign-in names, read before anything is written.

    The sign-in names its tenant (the vendor's business, or the organisation) and comes
    in on one mode's face, so that no answer depends on another business's members or on
    the other mode's.
    """
    if business_id is None and org_id is None:
        raise Unprocessable(
            "send businessId (the vendor's business) or organizationId",
            code="TENANT_REQUIRED",
        )
    candidates = await repository.members_for_login(
        session, email.strip().lower(), mode=mode, business_id=business_id, org_id=org_id
    )
    if len(candidates) > 1:
        raise BadRequest(
            "this email belongs to several of this business's organisations: send organizationId",
            code="ORGANIZATION_REQUIRED",
        )
    if not candidates:
        return None
    return Candidate(candidates[0].id, candidates[0].password_hash)


def wrong_credentials() -> Unauthorized:
    return Unauthorized("wrong email or password", code="INVALID_CREDENTIALS")


async def start_session(
    session: AsyncSession, vault: Vault, checked: Candidate, ttl: timedelta
) -> tuple[OrgMember, IssuedToken]:
    """Issue a session for a member whose password was verified outside this transaction,
    provided it is still the same member with the same password."""
    member = await repository.locked_member(session, checked.member_id)
    if member is None or member.password_hash != checked.password_hash:
        raise wrong_credentials()
    return member, await issue_token(session, vault, member.id, "session", "sign-in", ttl)


async def invite_of(session: AsyncSession, vault: Vault, invite: str, mode: str) -> str:
    """The id of a live invite token of this mode, read before anything is written."""
    row = await repository.token_by_hash(session, vault.lookup_hash(invite, TOKEN_PURPOSE))
    member = await session.get(OrgMember, row.member_id) if row is not None else None
    if row is None or member is None or member.mode != mode:
        raise Unauthorized("invalid or expired invite token", code="INVALID_INVITE")
    if row.kind != "invite" or row.revoked_at is not None:
        raise Unauthorized("invalid or expired invite token", code="INVALID_INVITE")
    if row.expires_at <= utcnow():
        raise Unauthorized("invalid or expired invite token", code="INVALID_INVITE")
    return row.id


async def accept_invite(
    session: AsyncSession,
    vault: Vault,
    invite_id: str,
    password_hash: str,
    ttl: timedelta,
) -> tuple[OrgMember, IssuedToken]:
    """Use the invite (once: the conditional update loses to a concurrent accept) and set
    the password hashed before this transaction began."""
    now = utcnow()
    used = await repository.use_invite(session, invite_id, now)
    member = await repository.locked_member(session, used) if used is not None else None
    if member is None:
        raise Unauthorized("invalid or expired invite token", code="INVALID_INVITE")
    member.password_hash = password_hash
    await session.flush()
    audit.event(
        session,
        member,
        "member.invite_accepted",
        {"password_hash": {"old": None, "new": MASK}},
        actor=f"member:{member.id}",
    )
    return member, await issue_token(session, vault, member.id, "session", "sign-in", ttl)


async def revoke_token(
    session: AsyncSession, org_id: str, token_id: str, *, member_id: str | None
) -> MemberToken:
    """Revoke a token of the organisation (of one member only, when `member_id` is set)."""
    row = await repository.token(session, token_id)
    owner = await session.get(OrgMember, row.member_id) if row is not None else None
    if (
        row is None
        or row.kind == "invite"
        or owner is None
        or owner.customer_id != org_id
        or (member_id is not None and row.member_id != member_id)
    ):
        raise NotFound(f"token {token_id} not found", code="TOKEN_NOT_FOUND")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        audit.record(
            session,
            business_id=owner.business_id,
            mode=owner.mode,
            action="member_token.revoked",
            target_type="member_token",
            target_id=row.id,
            changes=audit.changes_of({"revoked_at": (None, row.revoked_at)}),
        )
    return row


def is_live(row: MemberToken, now: datetime) -> bool:
    return row.revoked_at is None and row.expires_at > now
