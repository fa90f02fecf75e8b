from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from licensor.auth.dependencies import Auth
from licensor.delivery import service as delivery
from licensor.delivery.schemas import DeliveryCreate, DeliveryOut
from licensor.kit.deps import Ctx, ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.subscription import activation, service
from licensor.subscription.schemas import (
    ActivationCodeCreate,
    ActivationCodeOut,
    SeatLinkOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
)

router = APIRouter(prefix="/subscriptions", tags=["Subscriptions"])
Q_HELP = (
    "Search: subscription id or billing subscription id (exact), customer email or domain, "
    "company or customer name, subscription name"
)
COMPANY_HELP = "Part of the customer's name or of a license's company (case-insensitive)"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
    responses=error_responses(401, 404, 409, 422),
)
async def create_subscription(
    body: SubscriptionCreate, who: Auth, ctx: Ctx, session: WriteSession
) -> SubscriptionOut:
    row = await service.create(session, ctx, who, body)
    return (await service.to_out(session, [row]))[0]


@router.get("", response_model=ListResponse[SubscriptionOut], responses=error_responses(401, 422))
async def list_subscriptions(
    who: Auth,
    session: ListSession,
    page: Page,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=320, description=Q_HELP)] = None,
    email: Annotated[
        str | None, Query(max_length=320, description="A customer email, or a domain")
    ] = None,
    company: Annotated[str | None, Query(max_length=300, description=COMPANY_HELP)] = None,
) -> ListResponse[SubscriptionOut]:
    rows = await service.list_page(
        session, who, page, customer_id, q=q, email=email, company=company
    )
    return ListResponse(items=await service.to_out(session, rows))


@router.get("/{sub_id}", response_model=SubscriptionOut, responses=error_responses(401, 404))
async def get_subscription(sub_id: str, who: Auth, session: ReadSession) -> SubscriptionOut:
    return (await service.to_out(session, [await service.get(session, who, sub_id)]))[0]


@router.patch(
    "/{sub_id}", response_model=SubscriptionOut, responses=error_responses(401, 404, 409, 422)
)
async def update_subscription(
    sub_id: str, body: SubscriptionUpdate, who: Auth, ctx: Ctx, session: WriteSession
) -> SubscriptionOut:
    row = await service.update(session, ctx.vault, who, sub_id, body)
    return (await service.to_out(session, [row]))[0]


@router.delete(
    "/{sub_id}",
    response_model=SubscriptionOut,
    responses=error_responses(401, 404),
    summary="Cancel a subscription (kept for its licenses; its activation code is revoked)",
)
async def cancel_subscription(sub_id: str, who: Auth, session: WriteSession) -> SubscriptionOut:
    return (await service.to_out(session, [await service.cancel(session, who, sub_id)]))[0]


@router.get(
    "/{sub_id}/activation_code",
    response_model=ActivationCodeOut,
    responses=error_responses(401, 404),
)
async def show_activation_code(
    sub_id: str, who: Auth, ctx: Ctx, session: ReadSession
) -> ActivationCodeOut:
    return await activation.activation_code(session, ctx, who, sub_id, regenerate=False, send=False)


@router.post(
    "/{sub_id}/activation_code",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivationCodeOut,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Create or regenerate the activation code (the previous one is revoked); "
    "with send_email, email it to the customer",
)
async def regenerate_activation_code(
    sub_id: str,
    who: Auth,
    ctx: Ctx,
    session: WriteSession,
    body: ActivationCodeCreate | None = None,
) -> ActivationCodeOut:
    send = body is not None and body.send_email
    return await activation.activation_code(session, ctx, who, sub_id, regenerate=True, send=send)


@router.post(
    "/{sub_id}/deliveries",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Email the current activation code to the customer (or, with a reason, elsewhere)",
)
async def create_delivery(
    sub_id: str, who: Auth, ctx: Ctx, session: WriteSession, body: DeliveryCreate | None = None
) -> DeliveryOut:
    job = await activation.send_again(session, ctx, who, sub_id, body or DeliveryCreate())
    return delivery.to_out(job)


@router.get(
    "/{sub_id}/deliveries",
    response_model=ListResponse[DeliveryOut],
    responses=error_responses(401, 404),
    summary="The activation code emails of a subscription: queued, sending, sent or failed",
)
async def list_deliveries(
    sub_id: str, who: Auth, session: ReadSession
) -> ListResponse[DeliveryOut]:
    sub = await service.get(session, who, sub_id)
    jobs = await delivery.jobs_of(session, who, sub.id)
    return ListResponse(items=[delivery.to_out(j) for j in jobs])


@router.delete(
    "/{sub_id}/activation_code",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404),
)
async def revoke_activation_code(sub_id: str, who: Auth, session: WriteSession) -> None:
    await activation.revoke(session, who, sub_id)


@router.get(
    "/{sub_id}/seat_links",
    response_model=ListResponse[SeatLinkOut],
    responses=error_responses(401, 404, 422),
    summary="The usage history reported by the subscription's cloud instances, newest first",
)
async def list_seat_links(
    sub_id: str, who: Auth, session: ReadSession, page: Page
) -> ListResponse[SeatLinkOut]:
    rows = await service.seat_links(session, who, sub_id, page)
    return ListResponse(
        items=[
            SeatLinkOut(
                id=link.id,
                instance_id=instance_id,
                reported_at=link.reported_at,
                billable_users_count=link.billable_users_count,
                max_historical_users_count=link.max_historical_users_count,
                licensed_users_count=link.licensed_users_count,
                overage=link.overage,
                license_id=link.license_id,
                created_at=link.created_at,
            )
            for link, instance_id in rows
        ]
    )
