"""The transactional outbox's lease queries, shared by every kind of job (emails,
webhook deliveries): a job table has `id`, `status` (queued, sending, sent, failed),
`attempts`, `max_attempts`, `next_attempt_at`, `locked_until`, `locked_by`,
`last_error` and `updated_at`.

A worker takes a due job in a short write transaction: PostgreSQL's `FOR UPDATE SKIP
LOCKED` means workers never wait for nor take the same row; on SQLite the caller's
`BEGIN IMMEDIATE` holds the write lock, so select-then-update is atomic. The claim is a
lease (`locked_until`) and a token (`locked_by`): a job whose worker died is taken again
once its lease runs out, and an outcome is recorded only by the claim's holder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

PENDING = ("queued", "sending")


def claimable(job: Any, now: datetime) -> list[ColumnElement[bool]]:
    return [
        job.status.in_(PENDING),
        job.next_attempt_at <= now,
        or_(job.locked_until.is_(None), job.locked_until < now),
    ]


async def fail_exhausted(session: AsyncSession, job: Any, now: datetime) -> list[str]:
    """Jobs whose worker died during their last allowed attempt: failed, not retried
    forever. Returns their ids."""
    ids = list(
        (
            await session.scalars(
                select(job.id)
                .where(*claimable(job, now), job.attempts >= job.max_attempts)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    if ids:
        await session.execute(
            update(job)
            .where(job.id.in_(ids))
            .values(
                status="failed",
                locked_until=None,
                locked_by=None,
                last_error=func.coalesce(job.last_error, "the worker stopped during the attempt"),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


async def next_due(session: AsyncSession, job: Any, now: datetime, *extra: Any) -> str | None:
    """The id of the next due job (locked on PostgreSQL until the transaction ends)."""
    id_: str | None = await session.scalar(
        select(job.id)
        .where(*claimable(job, now), job.attempts < job.max_attempts, *extra)
        .order_by(job.next_attempt_at, job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return id_


async def take(
    session: AsyncSession, job: Any, job_id: str, now: datetime, lease: timedelta, token: str
) -> Any:
    """Claim the job under a lease (one more attempt); the row as it now is."""
    await session.execute(
        update(job)
        .where(job.id == job_id)
        .values(
            status="sending",
            locked_until=now + lease,
            locked_by=token,
            attempts=job.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return await session.scalar(
        select(job).where(job.id == job_id).execution_options(populate_existing=True)
    )


async def claim_one(
    session: AsyncSession, job: Any, now: datetime, lease: timedelta, token: str
) -> Any:
    """Take the next due job under a lease, or None."""
    job_id = await next_due(session, job, now)
    return None if job_id is None else await take(session, job, job_id, now, lease, token)


async def mark_done(
    session: AsyncSession, job: Any, job_id: str, token: str, now: datetime, **values: Any
) -> bool:
    """Sent: only by the claim's holder."""
    result = await session.execute(
        update(job)
        .where(job.id == job_id, job.locked_by == token)
        .values(
            status="sent",
            sent_at=now,
            locked_until=None,
            locked_by=None,
            last_error=None,
            updated_at=now,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_failed_attempt(
    session: AsyncSession,
    job: Any,
    job_id: str,
    token: str,
    now: datetime,
    error: str,
    retry_at: datetime | None,
    **extra: Any,
) -> bool:
    """Record a failed attempt: queued again at `retry_at`, or failed for good when None."""
    values: dict[str, object] = {
        "locked_until": None,
        "locked_by": None,
        "last_error": error[:2000],
        "updated_at": now,
        **extra,
    }
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["status"] = "queued"
        values["next_attempt_at"] = retry_at
    result = await session.execute(
        update(job)
        .where(job.id == job_id, job.locked_by == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff(base: float, factor: float, cap: float, attempts: int) -> timedelta:
    """Exponential: base, factor·base, factor²·base … capped."""
    seconds = base * (factor ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, cap))
