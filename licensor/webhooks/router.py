"""Webhook endpoints on Dodo's routes (`/webhooks…`), and Licensor's own: secret
rotation and the delivery log with resend."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from licensor.auth.dependencies import Auth
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.webhooks import log, service
from licensor.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    HeadersOut,
    HeadersUpdate,
    SecretOut,
    WebhookCreate,
    WebhookOut,
    WebhookPage,
    WebhookUpdate,
)

router = APIRouter(tags=["Webhooks"])

Iterator = Annotated[str | None, Query(max_length=64, description="From the previous page")]
Limit = Annotated[int, Query(ge=1, le=100)]
Status = Literal["queued", "sending", "sent", "failed"]


@router.post("/webhooks", response_model=WebhookOut, responses=error_responses(401, 422))
async def create_webhook(
    body: WebhookCreate, who: Auth, ctx: Ctx, session: WriteSession
) -> WebhookOut:
    row = await service.create(session, ctx.vault, ctx.settings, who, body)
    return service.to_out(row)


@router.get("/webhooks", response_model=WebhookPage, responses=error_responses(401, 422))
async def list_webhooks(
    who: Auth, session: ReadSession, iterator: Iterator = None, limit: Limit = 10
) -> WebhookPage:
    return await service.list_page(session, who, iterator, limit)


@router.get(
    "/webhooks/{webhook_id}", response_model=WebhookOut, responses=error_responses(401, 404)
)
async def get_webhook(webhook_id: str, who: Auth, session: ReadSession) -> WebhookOut:
    return service.to_out(await service.get(session, who, webhook_id))


@router.patch(
    "/webhooks/{webhook_id}", response_model=WebhookOut, responses=error_responses(401, 404, 422)
)
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, who: Auth, ctx: Ctx, session: WriteSession
) -> WebhookOut:
    return service.to_out(await service.update(session, ctx.settings, who, webhook_id, body))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404),
)
async def delete_webhook(webhook_id: str, who: Auth, session: WriteSession) -> Response:
    await service.delete(session, who, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/secret", response_model=SecretOut, responses=error_responses(401, 404)
)
async def get_webhook_secret(
    webhook_id: str, who: Auth, ctx: Ctx, session: ReadSession
) -> SecretOut:
    row = await service.get(session, who, webhook_id)
    return SecretOut(secret=service.secret(ctx.vault, row))


@router.post(
    "/webhooks/{webhook_id}/secret/rotate",
    response_model=SecretOut,
    responses=error_responses(401, 404),
    summary="A new signing secret; the old one still signs (beside it) for 24 hours",
)
async def rotate_webhook_secret(
    webhook_id: str, who: Auth, ctx: Ctx, session: WriteSession
) -> SecretOut:
    fresh = await service.rotate_secret(session, ctx.vault, ctx.settings, who, webhook_id)
    return SecretOut(secret=fresh)


@router.get(
    "/webhooks/{webhook_id}/headers",
    response_model=HeadersOut,
    responses=error_responses(401, 404),
)
async def get_webhook_headers(
    webhook_id: str, who: Auth, ctx: Ctx, session: ReadSession
) -> HeadersOut:
    return service.headers_out(ctx.vault, await service.get(session, who, webhook_id))


@router.patch(
    "/webhooks/{webhook_id}/headers",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def update_webhook_headers(
    webhook_id: str, body: HeadersUpdate, who: Auth, ctx: Ctx, session: WriteSession
) -> Response:
    await service.update_headers(session, ctx.vault, who, webhook_id, body.headers)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=error_responses(401, 404, 422),
    summary="The endpoint's delivery log: each event sent (or to be sent) and its outcome",
)
async def list_webhook_deliveries(
    webhook_id: str,
    who: Auth,
    session: ReadSession,
    status: Status | None = None,
    iterator: Iterator = None,
    limit: Limit = 20,
) -> DeliveryPage:
    return await log.list_page(session, who, webhook_id, status, iterator, limit)


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=error_responses(401, 404),
    summary="One delivery: the request sent and every attempt (status, time, error)",
)
async def get_webhook_delivery(
    webhook_id: str, delivery_id: str, who: Auth, ctx: Ctx, session: ReadSession
) -> DeliveryDetail:
    return await log.detail(session, ctx.vault, who, webhook_id, delivery_id)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409),
    summary="Send a delivery's event again (a new delivery, the same webhook-id)",
)
async def resend_webhook_delivery(
    webhook_id: str, delivery_id: str, who: Auth, ctx: Ctx, session: WriteSession
) -> DeliveryOut:
    return log.to_out(await log.resend(session, ctx.vault, who, webhook_id, delivery_id))
