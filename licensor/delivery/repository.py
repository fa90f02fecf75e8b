"""Outbox queries: claiming jobs under a lease, and recording what happened."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import EmailJob, MailSettings

PENDING = ("queued", "sending")


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        EmailJob.status.in_(PENDING),
        EmailJob.next_attempt_at <= now,
        or_(EmailJob.locked_until.is_(None), EmailJob.locked_until < now),
    ]


async def fail_exhausted(session: AsyncSession, now: datetime) -> list[Row[str, str, str]]:
    """Jobs whose worker died during their last allowed attempt: failed, not retried forever.
    Their (id, business_id, mode), for the audit log."""
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
        .returning(EmailJob.id, EmailJob.business_id, EmailJob.mode)
        .execution_options(synchronize_session=False)
    )
    return list(result.all())


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
