"""Outbox queries: claiming jobs under a lease, and recording what happened."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit import outbox
from licensor.models import EmailJob, MailSettings

PENDING = outbox.PENDING


async def fail_exhausted(session: AsyncSession, now: datetime) -> list[str]:
    """Jobs whose worker died during their last allowed attempt: failed, not retried forever."""
    return await outbox.fail_exhausted(session, EmailJob, now)


async def claim_one(
    session: AsyncSession, now: datetime, lease: timedelta, token: str
) -> EmailJob | None:
    """Take the next due job under a lease (kit/outbox.py: SKIP LOCKED or BEGIN IMMEDIATE)."""
    job: EmailJob | None = await outbox.claim_one(session, EmailJob, now, lease, token)
    return job


async def mark_sent(session: AsyncSession, job_id: str, token: str, now: datetime) -> bool:
    return await outbox.mark_done(session, EmailJob, job_id, token, now)


async def mark_failed_attempt(
    session: AsyncSession,
    job_id: str,
    token: str,
    now: datetime,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: queued again at `retry_at`, or failed for good when None."""
    return await outbox.mark_failed_attempt(session, EmailJob, job_id, token, now, error, retry_at)


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
