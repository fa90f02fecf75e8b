"""Subscriptions in the console: the list and its search (`subscription.service`), and a
subscription's page: cloud licensing mode, seat reconciliation, the activation code
(show, regenerate after confirmation, email), its cloud instances (revoke one after
confirmation, `license_desk.cloud_instance_service`), its licenses, its activation code
emails and the seat-usage chart (`subscription.seat_chart`, SVG drawn on the server)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from licensor.audit import service as audit
from licensor.console.confirm import CONFIRMED, acting, confirmation
from licensor.console.forms import FormErrors, form_errors
from licensor.console.session import Staff, StaffUser, allow, guard_post
from licensor.console.web import redirect, render
from licensor.customer import service as customer_service
from licensor.delivery import service as delivery_service
from licensor.delivery.schemas import DeliveryCreate
from licensor.kit.context import AppContext
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import LicensorError
from licensor.kit.pagination import PageParams
from licensor.license_desk import cloud_instance_service
from licensor.subscription import activation, seat_chart
from licensor.subscription import service as subscription_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
PAGE_SIZE = 50
BY_CODE = {
    "REASON_REQUIRED": "reason",
    "RECIPIENT_IS_STAFF": "to",
    "RECIPIENT_IS_RESELLER": "to",
    "INVALID_EMAIL_DOMAIN": "to",
    "EMAIL_DOMAIN_IS_IP_ADDRESS": "to",
    "EMAIL_HAS_INVISIBLE_CHARACTERS": "to",
}
CLOUD_MODES = {"Yes": "Yes (online cloud)", "Offline": "Offline", "No": "No (disabled)"}


def _page_of(sub_id: str) -> str:
    return f"/console/subscriptions/{sub_id}"


@router.get("/subscriptions")
async def subscriptions(
    request: Request,
    staff: Staff,
    session: ReadSession,
    q: Annotated[str, Query(max_length=320)] = "",
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    who = acting(staff)
    params = PageParams(page_number=page, page_size=PAGE_SIZE)
    rows = await subscription_service.list_page(session, who, params, None, q=q.strip() or None)
    customers = await customer_service.by_ids(session, who, {r.customer_id for r in rows})
    return render(
        request,
        "subscriptions.html",
        staff,
        subscriptions=await subscription_service.to_out(session, rows),
        customers=customers,
        query=q.strip(),
        page=page,
        more=len(rows) == PAGE_SIZE,
        cloud_modes=CLOUD_MODES,
    )


async def _subscription_page(
    request: Request,
    staff: StaffUser,
    ctx: AppContext,
    session: AsyncSession,
    sub_id: str,
    *,
    show_code: bool = False,
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    who = acting(staff)
    row = await subscription_service.get(session, who, sub_id)
    [sub] = await subscription_service.to_out(session, [row])
    code = None
    if show_code and sub.has_activation_code:
        shown = await activation.activation_code(
            session, ctx, who, row.id, regenerate=False, send=False
        )
        code = shown.activation_code
    licenses = await subscription_service.licenses(session, who, row.id)
    instances = await cloud_instance_service.list_page(
        session, who, row.id, PageParams(page_number=0, page_size=100)
    )
    return render(
        request,
        "subscription.html",
        staff,
        status_code=status_code,
        errors=errors,
        sub=sub,
        customer=await customer_service.get(session, who, row.customer_id),
        code=code,
        licenses=licenses,
        instances=instances,
        emails=[
            delivery_service.to_out(j) for j in await delivery_service.jobs_of(session, who, row.id)
        ],
        usage=await seat_chart.seat_usage(session, who, row.id),
        history=await audit.history(session, row.business_id, row.mode, "subscription", row.id),
        cloud_modes=CLOUD_MODES,
        form=form or {"to": "", "reason": ""},
    )


@router.get("/subscriptions/{sub_id}")
async def subscription(
    request: Request,
    sub_id: str,
    staff: Staff,
    ctx: Ctx,
    session: ReadSession,
    show_code: Annotated[bool, Query()] = False,
) -> Response:
    return await _subscription_page(request, staff, ctx, session, sub_id, show_code=show_code)


@router.post("/subscriptions/{sub_id}/activation-code")
@allow("admin", "support")
async def regenerate_code(
    request: Request,
    sub_id: str,
    staff: Staff,
    ctx: Ctx,
    session: WriteSession,
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    who = acting(staff)
    sub = await subscription_service.get(session, who, sub_id)
    if confirmed != CONFIRMED:
        return confirmation(
            request,
            staff,
            question=f"Regenerate the activation code of {sub.name or sub.id}?",
            detail="The current code stops working at once: an instance not yet activated "
            "with it needs the new one.",
            action=_page_of(sub_id) + "/activation-code",
            button="Yes, regenerate the activation code",
            back=_page_of(sub_id),
        )
    await activation.activation_code(session, ctx, who, sub.id, regenerate=True, send=False)
    return redirect(
        request, _page_of(sub_id) + "?show_code=true", flash="A new activation code is issued."
    )


@router.post("/subscriptions/{sub_id}/activation-code/email")
@allow("admin", "support")
async def email_code(
    request: Request,
    sub_id: str,
    staff: Staff,
    ctx: Ctx,
    session: WriteSession,
    to: Annotated[str, Form(max_length=400)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    who = acting(staff)
    form = {"to": to, "reason": reason}
    try:
        body = DeliveryCreate.model_validate(
            {"to": to.strip() or None, "reason": reason.strip() or None}
        )
        job = await activation.send_again(session, ctx, who, sub_id, body)
    except (ValidationError, LicensorError) as exc:
        if (
            isinstance(exc, LicensorError)
            and exc.status_code == 404
            and exc.code == "SUBSCRIPTION_NOT_FOUND"
        ):
            raise
        status = 422 if isinstance(exc, ValidationError) else exc.status_code
        return await _subscription_page(
            request,
            staff,
            ctx,
            session,
            sub_id,
            errors=form_errors(exc, BY_CODE),
            form=form,
            status_code=status,
        )
    return redirect(
        request, _page_of(sub_id), flash=f"The activation code is queued to {job.recipient}."
    )


@router.post("/subscriptions/{sub_id}/cloud-instances/{instance_row_id}/revoke")
@allow("admin", "support")
async def revoke_instance(
    request: Request,
    sub_id: str,
    instance_row_id: str,
    staff: Staff,
    session: WriteSession,
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    who = acting(staff)
    sub = await subscription_service.get(session, who, sub_id)
    action = f"{_page_of(sub.id)}/cloud-instances/{instance_row_id}/revoke"
    instance = await cloud_instance_service.get(session, who, sub.id, instance_row_id)
    if confirmed != CONFIRMED:
        return confirmation(
            request,
            staff,
            question=f"Revoke cloud instance {instance.instance_id!r} of {sub.name or sub.id}?",
            detail="For good: its seat reports get no license any more, and it cannot "
            "activate again with any code. Its slot is freed for another instance.",
            action=action,
            button="Yes, revoke the cloud instance",
            back=_page_of(sub.id),
        )
    await cloud_instance_service.revoke(session, who, sub.id, instance_row_id)
    return redirect(
        request, _page_of(sub.id), flash=f"Cloud instance {instance.instance_id!r} is revoked."
    )
