"""The email queue page: every queued and failed delivery of the business in the face's
mode (license keys, desk licenses, activation codes), with retry and cancel
(`delivery/queue.py`, as the API and `licensor deliveries` do)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from licensor.console.confirm import acting
from licensor.console.session import Staff, allow, guard_post
from licensor.console.web import redirect, render
from licensor.delivery import queue
from licensor.delivery import service as delivery_service
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.pagination import PageParams

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
PAGE_SIZE = 50
FILTERS = (("all", "Queued and failed"), ("queued", "Queued"), ("failed", "Failed"))
QUEUE = "/console/email-queue"


def about_href(license_id: str) -> str:
    """The console page of what a delivery is about, by its id's prefix."""
    if license_id.startswith("sub_"):
        return f"/console/subscriptions/{license_id}"
    if license_id.startswith("dlc_"):
        return f"/console/licenses/{license_id}"
    return f"/console/license-keys/{license_id}"


@router.get("/email-queue")
async def email_queue(
    request: Request,
    staff: Staff,
    session: ReadSession,
    status: Annotated[Literal["all", "queued", "failed"], Query()] = "all",
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    params = PageParams(page_number=page, page_size=PAGE_SIZE)
    jobs = await queue.page(session, acting(staff), status, params)
    return render(
        request,
        "email_queue.html",
        staff,
        deliveries=[delivery_service.to_out(j) for j in jobs],
        about_href=about_href,
        status=status,
        filters=FILTERS,
        page=page,
        more=len(jobs) == PAGE_SIZE,
    )


@router.post("/email-queue/{delivery_id}/retry")
@allow("admin", "support")
async def retry(
    request: Request, delivery_id: str, staff: Staff, ctx: Ctx, session: WriteSession
) -> Response:
    limit = ctx.settings.mail_max_attempts
    job = await queue.retry(session, acting(staff), delivery_id, max_attempts=limit)
    return redirect(
        request,
        f"{QUEUE}?status=queued",
        flash=f"Delivery {job.id} to {job.recipient} is queued again.",
    )


@router.post("/email-queue/{delivery_id}/cancel")
@allow("admin", "support")
async def cancel(
    request: Request, delivery_id: str, staff: Staff, session: WriteSession
) -> Response:
    job = await queue.cancel(session, acting(staff), delivery_id)
    return redirect(
        request,
        QUEUE,
        flash=f"Delivery {job.id} to {job.recipient} is cancelled: it will not be sent.",
    )
