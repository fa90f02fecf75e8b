"""Staff accounts and console sessions: the rules the CLI and the console share.

Passwords are hashed and verified by the caller outside any transaction (argon2 is slow);
`start_session` then checks, inside the write transaction, that the account still has the
password that was verified. A business always keeps at least one admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.business import service as business_service
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict, NotFound, Unauthorized
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault, constant_time_equal, random_token
from licensor.models import StaffMember, StaffSession
from licensor.staff import repository
from licensor.staff.schemas import Role, StaffCreate, StaffOut

SESSION_PURPOSE = "staff_session"
SESSION_PREFIX = "lkc_"
MAX_CANDIDATES = 10  # accounts one email may hold across businesses, for one sign-in
TOUCH_EVERY = timedelta(seconds=60)  # a session's last_seen_at is written at most this often


def normalise_email(email: str) -> str:
    return email.strip().lower()


def staff_out(row: StaffMember) -> StaffOut:
    return StaffOut(
        id=row.id,
        business_id=row.business_id,
        email=row.email,
        name=row.name,
        role=row.role,
        password=row.password_hash is not None,
        created_at=row.created_at,
    )


def not_found(staff_id: str) -> NotFound:
    return NotFound(f"staff member {staff_id} not found", code="STAFF_NOT_FOUND")


def wrong_credentials() -> Unauthorized:
    return Unauthorized("wrong email or password", code="INVALID_CREDENTIALS")


async def add_staff(
    session: AsyncSession, business_id: str, body: StaffCreate, password_hash: str | None
) -> StaffMember:
    """A new staff member; `password_hash` is argon2id made before the transaction."""
    await business_service.find_business(session, business_id)
    await repository.lock_business(session, business_id)
    email = normalise_email(body.email)
    if await repository.by_email_in(session, business_id, email) is not None:
        raise Conflict(f"{email} already has a staff account in this business", code="STAFF_EXISTS")
    row = StaffMember(
        id=new_id("stf"),
        business_id=business_id,
        email=email,
        name=body.name,
        role=body.role,
        password_hash=password_hash,
    )
    session.add(row)
    await session.flush()
    return row


async def list_staff(session: AsyncSession, business_id: str) -> Sequence[StaffMember]:
    return await repository.in_business(session, business_id)


async def get_staff(session: AsyncSession, business_id: str, staff_id: str) -> StaffMember:
    row = await session.get(StaffMember, staff_id)
    if row is None or row.business_id != business_id:
        raise not_found(staff_id)
    return row


async def _locked(session: AsyncSession, business_id: str, staff_id: str) -> StaffMember:
    await repository.lock_business(session, business_id)
    row = await repository.locked(session, staff_id)
    if row is None or row.business_id != business_id:
        raise not_found(staff_id)
    return row


async def _keep_an_admin(session: AsyncSession, row: StaffMember) -> None:
    if row.role == "admin" and await repository.count_admins(session, row.business_id) <= 1:
        raise Conflict(
            "the business's last admin cannot be removed or demoted: add another admin first",
            code="LAST_ADMIN",
        )


async def set_role(
    session: AsyncSession, business_id: str, staff_id: str, role: Role
) -> StaffMember:
    """Change a role; the member's sessions end (they sign in again with the new role)."""
    row = await _locked(session, business_id, staff_id)
    if row.role == role:
        return row
    if role != "admin":
        await _keep_an_admin(session, row)
    row.role = role
    await repository.end_sessions(session, row.id)
    await session.flush()
    return row


async def remove_staff(session: AsyncSession, business_id: str, staff_id: str) -> StaffMember:
    """Remove an account and end its sessions."""
    row = await _locked(session, business_id, staff_id)
    await _keep_an_admin(session, row)
    await repository.end_sessions(session, row.id)
    await session.delete(row)
    await session.flush()
    return row


# --- sign-in -----------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An account a sign-in may open: read before the password is verified."""

    staff_id: str
    business_id: str
    business_name: str
    password_hash: str | None


async def candidates(session: AsyncSession, email: str) -> list[Candidate]:
    """Every account with this email (one per business, at most MAX_CANDIDATES)."""
    rows = await repository.by_email(session, normalise_email(email), MAX_CANDIDATES)
    names = await repository.business_names(session, [r.business_id for r in rows])
    return [
        Candidate(r.id, r.business_id, names.get(r.business_id, r.business_id), r.password_hash)
        for r in rows
    ]


async def provision(session: AsyncSession, business_id: str, email: str, name: str) -> Candidate:
    """A read_only account for a verified single sign-on email (the operator's opt-in)."""
    body = StaffCreate(email=email, name=name[:200], role="read_only")
    row = await add_staff(session, business_id, body, None)
    business = await business_service.find_business(session, business_id)
    return Candidate(row.id, row.business_id, business.name, None)


@dataclass(frozen=True)
class StartedSession:
    staff: StaffMember
    row: StaffSession
    token: str  # the cookie's value, shown once


async def start_session(
    session: AsyncSession,
    vault: Vault,
    staff_id: str,
    *,
    method: str,
    ttl: timedelta,
    password_hash: str | None = None,
) -> StartedSession:
    """A new console session for an account whose credential was checked before this
    transaction; for a password sign-in, provided the password is still the same."""
    staff = await repository.locked(session, staff_id)
    if staff is None or (method == "password" and staff.password_hash != password_hash):
        raise wrong_credentials()
    now = utcnow()
    await repository.purge_expired(session, staff.id, now)
    token = SESSION_PREFIX + random_token(32)
    row = StaffSession(
        id=new_id("sss"),
        staff_id=staff.id,
        token_hash=vault.lookup_hash(token, SESSION_PURPOSE),
        method=method,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    return StartedSession(staff, row, token)


@dataclass(frozen=True)
class LiveSession:
    """A session found by its cookie and still live; `stale` when last_seen_at is due."""

    session_id: str
    staff_id: str
    business_id: str
    email: str
    name: str
    role: Role
    stale: bool


async def find_session(
    session: AsyncSession, vault: Vault, token: str, idle: timedelta
) -> LiveSession | None:
    """The live session a cookie names, or None (unknown, expired, idle too long)."""
    if not token.startswith(SESSION_PREFIX) or len(token) > 100:
        return None
    digest = vault.lookup_hash(token, SESSION_PURPOSE)
    found = await repository.session_by_hash(session, digest)
    if found is None:
        return None
    row, staff = found
    now = utcnow()
    if not constant_time_equal(row.token_hash, digest) or not _live(row, now, idle):
        return None
    return LiveSession(
        session_id=row.id,
        staff_id=staff.id,
        business_id=staff.business_id,
        email=staff.email,
        name=staff.name,
        role=staff.role,  # type: ignore[arg-type]
        stale=now - row.last_seen_at >= TOUCH_EVERY,
    )


def _live(row: StaffSession, now: datetime, idle: timedelta) -> bool:
    return row.expires_at > now and row.last_seen_at + idle > now


async def touch_session(session: AsyncSession, session_id: str) -> None:
    row = await session.get(StaffSession, session_id)
    if row is not None:
        row.last_seen_at = utcnow()
        await session.flush()


async def end_session(session: AsyncSession, session_id: str) -> None:
    await repository.end_session(session, session_id)
