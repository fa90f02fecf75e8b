"""License keys (the Dodo face) in the console: the list (by status, and the API's search:
customer email or domain, an exact key or id, a company or name), a key's page with its
instances (the machine holding each seat: name, fingerprint, last heartbeat), and the
changes — disable or enable, the activations limit, the expiry, releasing a seat — each
confirmed first (`confirm.py`), each through the same services as `PATCH
/license_keys/{id}` and `DELETE /license_key_instances/{id}` (`license_key/seats.py`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from licensor.console.confirm import CONFIRMED, acting, confirmation
from licensor.console.forms import FormErrors, form_errors
from licensor.console.session import Staff, StaffUser, allow, guard_post
from licensor.console.web import redirect, render
from licensor.customer import service as customer_service
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import LicensorError
from licensor.kit.pagination import PageParams
from licensor.license_key import instance_service, seats
from licensor.license_key import service as key_service
from licensor.license_key.schemas import LicenseKeyUpdate
from licensor.product import service as product_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
PAGE_SIZE = 50
STATUSES = (
    ("", "Any status"),
    ("active", "Active"),
    ("disabled", "Disabled"),
    ("expired", "Expired"),
)
BY_CODE = {
    "ACTIVATION_LIMIT_LESS_THAN_CURRENT_AMOUNT": "activations_limit",
}
Confirmed = Annotated[str, Form(max_length=10)]


def _page_of(key_id: str) -> str:
    return f"/console/license-keys/{key_id}"


@router.get("/license-keys")
async def license_keys(
    request: Request,
    staff: Staff,
    ctx: Ctx,
    session: ReadSession,
    status: Annotated[Literal["", "active", "disabled", "expired"], Query()] = "",
    email: Annotated[str, Query(max_length=320)] = "",
    q: Annotated[str, Query(max_length=320)] = "",
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    who = acting(staff)
    params = PageParams(page_number=page, page_size=PAGE_SIZE)
    # the API's search (GET /license_keys?email=&q=): customers by email (whole or domain);
    # `q` an exact key, a key or customer id, or the customers its text names
    search = key_service.search_of(ctx.vault, who, email=email.strip() or None, q=q.strip() or None)
    keys = await key_service.list_page(
        session,
        ctx.vault,
        who,
        params,
        customer_id=None,
        product_id=None,
        status=status or None,
        source=None,
        created_at_gte=None,
        created_at_lte=None,
        search=search,
    )
    customers = await customer_service.by_ids(session, who, {k.customer_id for k in keys})
    return render(
        request,
        "license_keys.html",
        staff,
        keys=keys,
        customers=customers,
        status=status,
        email=email,
        q=q,
        statuses=STATUSES,
        page=page,
        more=len(keys) >= PAGE_SIZE,
    )


async def _key_page(
    request: Request,
    staff: StaffUser,
    ctx: AppContext,
    session: AsyncSession,
    key_id: str,
    *,
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    who = acting(staff)
    row = await key_service.get(session, who, key_id)
    brand = await product_service.brand_of(session, who.business_id)
    key = key_service.to_out(row, ctx.vault, brand)
    instances = await instance_service.list_page(
        session, who, PageParams(page_number=0, page_size=100), row.id
    )
    product = await product_service.get(session, who, row.product_id)
    floating = product.license_model == "floating"
    silence = product.heartbeat_interval_seconds + product.heartbeat_grace_seconds
    cutoff = utcnow() - timedelta(seconds=silence)
    return render(
        request,
        "license_key.html",
        staff,
        status_code=status_code,
        errors=errors,
        key=key,
        customer=await customer_service.get(session, who, row.customer_id),
        product=product,
        instances=instances,
        floating=floating,
        silence=silence,
        silent={i.id for i in instances if floating and i.last_heartbeat_at < cutoff},
        form=form
        or {
            "activations_limit": ""
            if key.activations_limit is None
            else str(key.activations_limit),
            "expires_at": key.expires_at.strftime("%Y-%m-%dT%H:%M") if key.expires_at else "",
        },
    )


@router.get("/license-keys/{key_id}")
async def license_key(
    request: Request, key_id: str, staff: Staff, ctx: Ctx, session: ReadSession
) -> Response:
    return await _key_page(request, staff, ctx, session, key_id)


async def _change(
    request: Request,
    staff: StaffUser,
    ctx: AppContext,
    session: AsyncSession,
    key_id: str,
    data: dict[str, object],
    form: dict[str, str],
    *,
    confirmed: str,
    question: str,
    detail: str,
    action: str,
    button: str,
    done: str,
) -> Response:
    """Validate, ask for confirmation, then change the key through the service."""
    who = acting(staff)
    try:
        body = LicenseKeyUpdate.model_validate(data)
        await key_service.get(session, who, key_id)  # 404 before asking
        if confirmed != CONFIRMED:
            return confirmation(
                request,
                staff,
                question=question,
                detail=detail,
                action=_page_of(key_id) + action,
                button=button,
                back=_page_of(key_id),
                fields=form,
            )
        await key_service.update(session, who, key_id, body)  # refused before any write
    except (ValidationError, LicensorError) as exc:
        if isinstance(exc, LicensorError) and exc.status_code == 404:
            raise
        status = 422 if isinstance(exc, ValidationError) else exc.status_code
        errors = form_errors(exc, BY_CODE)
        return await _key_page(
            request, staff, ctx, session, key_id, errors=errors, form=form, status_code=status
        )
    return redirect(request, _page_of(key_id), flash=done)


@router.post("/license-keys/{key_id}/disabled")
@allow("admin", "support")
async def set_disabled(
    request: Request,
    key_id: str,
    staff: Staff,
    ctx: Ctx,
    session: WriteSession,
    disabled: Annotated[Literal["true", "false"], Form()],
    confirmed: Confirmed = "",
) -> Response:
    off = disabled == "true"
    verb = "Disable" if off else "Enable"
    return await _change(
        request,
        staff,
        ctx,
        session,
        key_id,
        {"disabled": off},
        {"disabled": disabled},
        confirmed=confirmed,
        question=f"{verb} license key {key_id}?",
        detail=(
            "Its activations and validations will be refused until it is enabled again."
            if off
            else "It will validate and activate again (within its limit and expiry)."
        ),
        action="/disabled",
        button=f"Yes, {verb.lower()} the license key",
        done=f"License key {key_id} is {'disabled' if off else 'enabled'}.",
    )


@router.post("/license-keys/{key_id}/limit")
@allow("admin", "support")
async def set_limit(
    request: Request,
    key_id: str,
    staff: Staff,
    ctx: Ctx,
    session: WriteSession,
    activations_limit: Annotated[str, Form(max_length=20)] = "",
    confirmed: Confirmed = "",
) -> Response:
    given = activations_limit.strip()
    shown = given or "no limit"
    return await _change(
        request,
        staff,
        ctx,
        session,
        key_id,
        {"activations_limit": given or None},
        {"activations_limit": given},
        confirmed=confirmed,
        question=f"Change the activations limit of {key_id} to {shown}?",
        detail="A limit below the number of active instances is refused.",
        action="/limit",
        button="Yes, change the activations limit",
        done=f"The activations limit of {key_id} is now {shown}.",
    )


@router.post("/license-keys/{key_id}/expiry")
@allow("admin", "support")
async def set_expiry(
    request: Request,
    key_id: str,
    staff: Staff,
    ctx: Ctx,
    session: WriteSession,
    expires_at: Annotated[str, Form(max_length=40)] = "",
    confirmed: Confirmed = "",
) -> Response:
    given = expires_at.strip()
    shown = f"{given.replace('T', ' ')} UTC" if given else "never"
    return await _change(
        request,
        staff,
        ctx,
        session,
        key_id,
        {"expires_at": given or None},
        {"expires_at": given},
        confirmed=confirmed,
        question=f"Change the expiry of {key_id} to {shown}?",
        detail="Past its expiry the key no longer validates nor activates.",
        action="/expiry",
        button="Yes, change the expiry",
        done=f"License key {key_id} now expires: {shown}.",
    )


@router.post("/license-keys/{key_id}/instances/{instance_id}/release")
@allow("admin", "support")
async def release_seat(
    request: Request,
    key_id: str,
    instance_id: str,
    staff: Staff,
    session: WriteSession,
    note: Annotated[str, Form(max_length=500)] = "",
    confirmed: Confirmed = "",
) -> Response:
    """Free the seat an instance holds: first a page saying who holds it (and asking
    why), then, confirmed, `seats.release` — as `DELETE /license_key_instances/{id}`."""
    who = acting(staff)
    instance = await instance_service.get(session, who, instance_id)
    if instance.license_key_id != key_id:
        await key_service.get(session, who, key_id)
        return redirect(request, _page_of(key_id), flash="That instance is not this key's.")
    if confirmed != CONFIRMED:
        return render(
            request,
            "release_seat.html",
            staff,
            key_id=key_id,
            instance=instance,
            action=f"{_page_of(key_id)}/instances/{instance_id}/release",
            back=_page_of(key_id),
            confirmed=CONFIRMED,
        )
    await seats.release(session, who, instance_id, note.strip() or None)
    done = f"The seat of {instance.name!r} is released."
    return redirect(request, _page_of(key_id), flash=done)
