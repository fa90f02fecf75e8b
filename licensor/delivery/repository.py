"""Outbox queries: claiming jobs under a lease, and recording what happened."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
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
