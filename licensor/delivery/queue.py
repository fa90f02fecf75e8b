"""The email queue: every waiting and failed delivery of a business and mode, across
license keys, desk licenses and subscriptions, with the two hand operations on it.

* **retry** a `failed` delivery: it goes back to `queued`, due at once, with the same
  id, content and Message-ID (a retry is the same message, so a copy that did arrive
  after all is recognisable), and a **fresh round of attempts**: `attempts` starts again
  from 0 and `max_attempts` is the current `LICENSOR_MAIL_MAX_ATTEMPTS` (a failed job has
  used up its attempts, or failed permanently, so continuing the count would leave it
  none). `last_error` stays until the next attempt replaces or clears it.
* **cancel** a `queued` delivery: it becomes `cancelled` and no worker sends it. A
  delivery a worker is sending (`sending`) cannot be cancelled (`DELIVERY_IN_PROGRESS`);
  a sent, failed or cancelled one is not queued (`DELIVERY_NOT_QUEUED`).

`resend` (in `service`) is different: it queues a sent or failed delivery again as a new
delivery with a new Message-ID. Services only flush; the caller owns the transaction.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.delivery import repository
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict, NotFound
from licensor.kit.pagination import PageParams
from licensor.kit.tenancy import Principal
from licensor.models import EmailJob

QueueFilter = Literal["all", "queued", "failed"]
DELIVERY_NOT_FAILED = "DELIVERY_NOT_FAILED"
DELIVERY_NOT_QUEUED = "DELIVERY_NOT_QUEUED"


async def page(
    session: AsyncSession, who: Principal, which: QueueFilter, params: PageParams
) -> list[EmailJob]:
    """`queued` (queued and sending), `failed`, or `all` of both; newest first."""
    offset = params.page_number * params.page_size
    return await repository.queue_page(
        session, who.business_id, who.mode, which, params.page_size, offset
    )


async def get(session: AsyncSession, who: Principal, job_id: str) -> EmailJob:
    """One delivery of the caller's business and mode, whatever it is about."""
    usable = len(job_id) <= 64 and job_id.isprintable()
    job = await session.get(EmailJob, job_id) if usable else None
    if job is None or job.business_id != who.business_id or job.mode != who.mode:
        raise NotFound(f"delivery {job_id} not found", code="DELIVERY_NOT_FOUND")
    return job


async def retry(
    session: AsyncSession, who: Principal, job_id: str, *, max_attempts: int
) -> EmailJob:
    """`max_attempts`: the settings' `mail_max_attempts` (the caller's context has them)."""
    job = await get(session, who, job_id)
    if not await repository.requeue_failed(session, job.id, utcnow(), max(1, max_attempts)):
        await session.refresh(job)
        raise Conflict(
            f"delivery {job_id} is {job.status}: only a failed delivery is retried",
            code=DELIVERY_NOT_FAILED,
        )
    await session.refresh(job)  # the update went around the ORM
    return job


async def cancel(session: AsyncSession, who: Principal, job_id: str) -> EmailJob:
    job = await get(session, who, job_id)
    if not await repository.cancel_queued(session, job.id, utcnow()):
        await session.refresh(job)
        if job.status == "sending":
            raise Conflict(
                f"delivery {job_id} is being sent: it can no longer be cancelled",
                code="DELIVERY_IN_PROGRESS",
            )
        raise Conflict(
            f"delivery {job_id} is {job.status}: only a queued delivery is cancelled",
            code=DELIVERY_NOT_QUEUED,
        )
    await session.refresh(job)  # the update went around the ORM
    return job
