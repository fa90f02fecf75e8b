"""Outbox queries: claiming jobs under a lease, and recording what happened."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import EmailJob, MailSettings

PENDING = ("queued", "sending")


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        EmailJob.status.in_(PENDING),
        EmailJob.next_attempt_at <= now,
        or_(EmailJob.locked_until.is_(None), EmailJob.locked_until < now),
    ]


async def fail_exhausted(session: AsyncSession, now: datetime) -> int:
    """Jobs whose worker died during their last allowed attempt: failed, not retried forever."""
    result = await session.execute(
        update(EmailJob)
        .where(*_claimable(now), EmailJob.attempts >= EmailJob.max_attempts)
        .values(
            status="failed",
            locked_until=None,
            locked_by=None,
            last_error=func.coalesce(EmailJob.last_error, "the worker stopped during the attempt"),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def claim_one(
    session: AsyncSession, now: datetime, lease: timedelta, token: str
) -> EmailJob | None:
    """Take the next due job under a lease. PostgreSQL: FOR UPDATE SKIP LOCKED, so workers
    never wait for nor take the same row; SQLite: the caller's BEGIN IMMEDIATE transaction
    holds the write lock, so select-then-update is atomic (FOR UPDATE is not rendered)."""
    job_id = await session.scalar(
        select(EmailJob.id)
        .where(*_claimable(now), EmailJob.attempts < EmailJob.max_attempts)
        .order_by(EmailJob.next_attempt_at, EmailJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job_id is None:
        return None
    await session.execute(
        update(EmailJob)
        .where(EmailJob.id == job_id)
        .values(
            status="sending",
            locked_until=now + lease,
            locked_by=token,
            attempts=EmailJob.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return await session.scalar(
        select(EmailJob).where(EmailJob.id == job_id).execution_options(populate_existing=True)
    )


async def mark_sent(session: AsyncSession, job_id: str, token: str, now: datetime) -> bool:
    result = await session.execute(
        update(EmailJob)
        .where(EmailJob.id == job_id, EmailJob.locked_by == token)
        .values(
            status="sent",
            sent_at=now,
            locked_until=None,
            locked_by=None,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_failed_attempt(
    session: AsyncSession,
    job_id: str,
    token: str,
    now: datetime,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: queued again at `retry_at`, or failed for good when None."""
    values: dict[str, object] = {
        "locked_until": None,
        "locked_by": None,
        "last_error": error[:2000],
        "updated_at": now,
    }
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["status"] = "queued"
        values["next_attempt_at"] = retry_at
    result = await session.execute(
        update(EmailJob)
        .where(EmailJob.id == job_id, EmailJob.locked_by == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_by_status(session: AsyncSession, business_id: str, mode: str) -> dict[str, int]:
    rows = await session.execute(
        select(EmailJob.status, func.count())
        .where(EmailJob.business_id == business_id, EmailJob.mode == mode)
        .group_by(EmailJob.status)
    )
    return {status: int(n) for status, n in rows.tuples()}


async def list_for_license(
    session: AsyncSession, business_id: str, mode: str, license_id: str
) -> list[EmailJob]:
    stmt = (
        select(EmailJob)
        .where(
            EmailJob.business_id == business_id,
            EmailJob.mode == mode,
            EmailJob.license_id == license_id,
        )
        .order_by(EmailJob.created_at, EmailJob.id)
    )
    return list((await session.scalars(stmt)).all())


async def mail_settings(session: AsyncSession, business_id: str, mode: str) -> MailSettings | None:
    return await session.scalar(
        select(MailSettings).where(
            MailSettings.business_id == business_id, MailSettings.mode == mode
        )
    )


QUEUE_STATUSES: dict[str, tuple[str, ...]] = {
    "queued": PENDING,
    "failed": ("failed",),
    "all": (*PENDING, "failed"),
}


async def queue_page(
    session: AsyncSession, business_id: str, mode: str, which: str, limit: int, offset: int
) -> list[EmailJob]:
    """The business's waiting (queued, sending) and failed emails, newest first."""
    stmt = (
        select(EmailJob)
        .where(
            EmailJob.business_id == business_id,
            EmailJob.mode == mode,
            EmailJob.status.in_(QUEUE_STATUSES[which]),
        )
        .order_by(EmailJob.created_at.desc(), EmailJob.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(stmt)).all())


async def requeue_failed(
    session: AsyncSession, job_id: str, now: datetime, max_attempts: int
) -> bool:
    """failed → queued, due now, with a fresh round of attempts; False when the job was
    not failed (the conditional update is the check, so two retries cannot both win)."""
    result = await session.execute(
        update(EmailJob)
        .where(EmailJob.id == job_id, EmailJob.status == "failed")
        .values(
            status="queued",
            attempts=0,
            max_attempts=max_attempts,
            next_attempt_at=now,
            locked_until=None,
            locked_by=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cancel_queued(session: AsyncSession, job_id: str, now: datetime) -> bool:
    """queued → cancelled; False when a worker holds it (sending) or it is done. On
    PostgreSQL a worker's claim locks the row (FOR UPDATE), so this update waits for the
    claim and then sees `sending`; on SQLite both are BEGIN IMMEDIATE writes, in turn."""
    result = await session.execute(
        update(EmailJob)
        .where(EmailJob.id == job_id, EmailJob.status == "queued")
        .values(status="cancelled", locked_until=None, locked_by=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
