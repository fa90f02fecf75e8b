"""Webhook deliveries in the console: the business's webhook endpoints (in the face's
mode) with their most recent deliveries, an endpoint's page with its whole log (newest
first, paged), and "Resend" of a sent or failed delivery for support and admin staff
(`webhooks/log.py` `resend`, as `POST /webhooks/{id}/deliveries/{delivery_id}/resend`
and `licensor webhooks resend`). Read-only for every role otherwise: no secret and no
custom header is shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from licensor.console.confirm import acting
from licensor.console.session import Staff, allow, guard_post
from licensor.console.web import redirect, render
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.pagination import PageParams
from licensor.webhooks import log
from licensor.webhooks import service as webhook_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
ENDPOINTS = 50  # endpoints per page of the list
RECENT = 10  # deliveries shown per endpoint on the list
PAGE_SIZE = 50  # deliveries per page of an endpoint's log
HOOKS = "/console/webhooks"


@router.get("/webhooks")
async def webhooks(
    request: Request,
    staff: Staff,
    session: ReadSession,
    after: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    who = acting(staff)
    rows = await webhook_service.endpoints(session, who, after or None, ENDPOINTS + 1)
    more = len(rows) > ENDPOINTS
    rows = rows[:ENDPOINTS]
    recent = PageParams(page_number=0, page_size=RECENT)
    return render(
        request,
        "webhooks.html",
        staff,
        endpoints=[(row, await log.recent(session, who, row.id, recent)) for row in rows],
        recent=RECENT,
        after=after,
        next_after=rows[-1].id if more and rows else None,
    )


@router.get("/webhooks/{endpoint_id}")
async def webhook(
    request: Request,
    endpoint_id: str,
    staff: Staff,
    session: ReadSession,
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    who = acting(staff)
    row = await webhook_service.get(session, who, endpoint_id)
    params = PageParams(page_number=page, page_size=PAGE_SIZE)
    deliveries = await log.recent(session, who, row.id, params)
    return render(
        request,
        "webhook.html",
        staff,
        endpoint=row,
        deliveries=deliveries,
        page=page,
        more=len(deliveries) == PAGE_SIZE,
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
@allow("admin", "support")
async def resend(
    request: Request,
    endpoint_id: str,
    delivery_id: str,
    staff: Staff,
    ctx: Ctx,
    session: WriteSession,
) -> Response:
    again = await log.resend(session, ctx.vault, acting(staff), endpoint_id, delivery_id)
    return redirect(
        request,
        f"{HOOKS}/{endpoint_id}",
        flash=f"Delivery {delivery_id} ({again.event_type}) is queued again as {again.id}.",
    )
