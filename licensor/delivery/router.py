from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from licensor.auth.dependencies import Auth
from licensor.delivery import mail_settings, queue, service
from licensor.delivery.schemas import (
    DeliveryCreate,
    DeliveryOut,
    MailHealthOut,
    MailSettingsIn,
    MailSettingsOut,
)
from licensor.delivery.worker import mail_health
from licensor.kit.deps import Ctx, ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page

router = APIRouter(tags=["License Delivery"])


@router.post(
    "/license_keys/{id}/deliveries",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 422),
    summary="Email a license key to its customer (or, with a reason, another address)",
)
async def create_delivery(
    id: str, who: Auth, ctx: Ctx, session: WriteSession, body: DeliveryCreate | None = None
) -> DeliveryOut:
    job = await service.send_license_key(session, ctx, who, id, body or DeliveryCreate())
    return service.to_out(job)


@router.get(
    "/license_keys/{id}/deliveries",
    response_model=ListResponse[DeliveryOut],
    responses=error_responses(401, 404),
    summary="The emails of a license key: queued, sending, sent or failed",
)
async def list_deliveries(id: str, who: Auth, session: ReadSession) -> ListResponse[DeliveryOut]:
    jobs = await service.list_for_license_key(session, who, id)
    return ListResponse(items=[service.to_out(j) for j in jobs])


@router.post(
    "/license_keys/{id}/deliveries/{delivery_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Send a failed or lost delivery again (a new delivery)",
)
async def resend_delivery(
    id: str, delivery_id: str, who: Auth, ctx: Ctx, session: WriteSession
) -> DeliveryOut:
    await service.sendable_key(session, who, id)  # 404 for another tenant's key
    return service.to_out(await service.resend(session, ctx, who, id, delivery_id))


@router.get("/mail_settings", response_model=MailSettingsOut, responses=error_responses(401))
async def get_mail_settings(who: Auth, session: ReadSession) -> MailSettingsOut:
    return await mail_settings.get(session, who.business_id, who.mode)


@router.put(
    "/mail_settings", response_model=MailSettingsOut, responses=error_responses(401, 409, 422)
)
async def put_mail_settings(
    body: MailSettingsIn, who: Auth, session: WriteSession
) -> MailSettingsOut:
    return await mail_settings.put(session, who.business_id, who.mode, body)


@router.get(
    "/mail/health",
    response_model=MailHealthOut,
    responses=error_responses(401),
    summary="Mail for this business: SMTP configured, worker running, its queued and failed",
)
async def get_mail_health(who: Auth, ctx: Ctx, request: Request) -> MailHealthOut:
    running = bool(getattr(request.app.state, "mail_worker", False))
    report = await mail_health(ctx, running, who.business_id, who.mode)
    return MailHealthOut.model_validate(report)


@router.get(
    "/deliveries",
    response_model=ListResponse[DeliveryOut],
    responses=error_responses(401, 422),
    summary="The email queue: queued (and sending) and failed deliveries of every "
    "license key, desk license and subscription, newest first",
)
async def list_queue(
    who: Auth,
    session: ListSession,
    page: Page,
    status: Annotated[queue.QueueFilter, Query(description="queued, failed or all")] = "all",
) -> ListResponse[DeliveryOut]:
    jobs = await queue.page(session, who, status, page)
    return ListResponse(items=[service.to_out(j) for j in jobs])


@router.get(
    "/deliveries/{delivery_id}", response_model=DeliveryOut, responses=error_responses(401, 404)
)
async def get_queued(delivery_id: str, who: Auth, session: ReadSession) -> DeliveryOut:
    return service.to_out(await queue.get(session, who, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409),
    summary="Queue a failed delivery again (same message, a fresh round of attempts)",
)
async def retry_delivery(
    delivery_id: str, who: Auth, ctx: Ctx, session: WriteSession
) -> DeliveryOut:
    limit = ctx.settings.mail_max_attempts
    return service.to_out(await queue.retry(session, who, delivery_id, max_attempts=limit))


@router.post(
    "/deliveries/{delivery_id}/cancel",
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409),
    summary="Cancel a queued delivery: it is never sent",
)
async def cancel_delivery(delivery_id: str, who: Auth, session: WriteSession) -> DeliveryOut:
    return service.to_out(await queue.cancel(session, who, delivery_id))
