from __future__ import annotations

from fastapi import APIRouter, Request, status

from licensor.auth.dependencies import Auth
from licensor.delivery import mail_settings, service
from licensor.delivery.schemas import (
    DeliveryCreate,
    DeliveryOut,
    MailHealthOut,
    MailSettingsIn,
    MailSettingsOut,
)
from licensor.delivery.worker import mail_health
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse

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
