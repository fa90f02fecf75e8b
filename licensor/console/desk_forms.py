"""`Duplicate license` and `Add new License`: one form, prefilled from the original (or
empty), the seed's required fields per type, every error next to its field. Changing
`Customer` never rewrites name, email or company: `Use this customer's details` fills
them in the form, visibly, and only `Save` issues (and emails) the license. The marks of
the required fields follow `License type` at once with `static/desk.js` (the form's
`data-required`); without script, `Show required fields` asks the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import Response

from licensor.console.desk_common import (
    FIELDS,
    LABEL_CHOICES,
    NEW_TYPES,
    ONLINE_CLOUD_EXPLANATION,
    TYPE_NAMES,
    TYPES,
    body_of,
    date_value,
    desk_errors,
    issuer,
    marks_of,
    principal,
    required_marks,
)
from licensor.console.forms import FormErrors, form_errors
from licensor.console.session import Staff, StaffUser, guard_post
from licensor.console.web import redirect, render
from licensor.customer import service as customer_service
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import LicensorError
from licensor.license_desk import rules
from licensor.license_desk import service as desk
from licensor.license_desk.schemas import LicenseCreate, LicenseDuplicate
from licensor.subscription import service as subscription_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])


@dataclass(frozen=True)
class Source:
    """The original license as the form shows it (a plain value: a refused save rolls
    the transaction back, which expires ORM rows)."""

    id: str
    license_type: str


def _values_of(row: Any) -> dict[str, str]:
    return {
        "license_type": row.license_type,
        "customer_id": row.customer_id or "",
        "name": row.licensee_name,
        "company": row.licensee_company,
        "email": row.licensee_email,
        "users_count": str(row.users_count),
        "plan_code": row.plan_code,
        "starts_at": date_value(row.starts_at),
        "expires_at": date_value(row.expires_at),
        "subscription_id": row.subscription_external_id or row.subscription_id or "",
    }


def _form(
    request: Request,
    staff: StaffUser,
    *,
    values: dict[str, str],
    source: Any = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
    filled_from: Any = None,
    activation_link: str | None = None,
    refused: str | None = None,
) -> Response:
    kind = values.get("license_type") or "legacy"
    types = TYPES if source is not None else NEW_TYPES
    return render(
        request,
        "desk/license_form.html",
        staff,
        status_code=status_code,
        errors=errors,
        source=source,
        values=values,
        fields=FIELDS,
        types=types,
        marks=marks_of(kind),
        required_marks=required_marks(types),
        label_choices=LABEL_CHOICES,
        filled_from=filled_from,
        activation_link=activation_link,
        refused=refused,
    )


@router.get("/licenses/new")
async def new_form(request: Request, staff: Staff) -> Response:
    return _form(request, staff, values={"license_type": "legacy"})


@router.get("/licenses/{license_id}/duplicate")
async def duplicate_form(
    request: Request, license_id: str, staff: Staff, session: ReadSession
) -> Response:
    source = await desk.get(session, principal(staff), license_id)
    if source.license_type != "legacy":
        name = TYPE_NAMES.get(source.license_type, source.license_type)
        return _form(
            request,
            staff,
            values={},
            source=Source(source.id, source.license_type),
            status_code=409,
            refused=f"Only legacy licenses can be duplicated; this one is an {name} license.",
        )
    return _form(
        request, staff, values=_values_of(source), source=Source(source.id, source.license_type)
    )


async def _use_customer(
    request: Request,
    staff: StaffUser,
    session: ReadSession | WriteSession,
    values: dict[str, str],
    source: Any,
) -> Response:
    """Fill name, email and company from the customer, in the form only (nothing saved)."""
    try:
        customer = await customer_service.get(session, principal(staff), values["customer_id"])
    except LicensorError as exc:
        errors = FormErrors(fields={"customer_id": exc.message})
        return _form(request, staff, values=values, source=source, errors=errors, status_code=422)
    values = {
        **values,
        "name": customer.name,
        "email": customer.email,
        "company": rules.company_of(customer),
    }
    return _form(request, staff, values=values, source=source, filled_from=customer)


async def _save(
    request: Request,
    staff: StaffUser,
    ctx: Ctx,
    session: WriteSession,
    form: dict[str, str],
    source: Any,
) -> Response:
    """Issue (or duplicate) and email the license at once, in one transaction."""
    who = principal(staff)
    body = {**body_of(form), "send_email": True}
    try:
        if source is not None:
            request_body = LicenseDuplicate.model_validate(body)
            row = await desk.duplicate(session, ctx, who, source.id, request_body, issuer(staff))
        else:
            row = await desk.issue(
                session, ctx, who, LicenseCreate.model_validate(body), issuer(staff)
            )
    except ValidationError as exc:
        await session.rollback()
        errors = form_errors(exc)
        return _form(request, staff, values=form, source=source, errors=errors, status_code=422)
    except LicensorError as exc:
        await session.rollback()  # nothing written: the refusal is shown, the form kept
        link = None
        if exc.code == "ONLINE_CLOUD_LICENSE_NOT_SUPPORTED":
            exc.message = ONLINE_CLOUD_EXPLANATION
            link = await _activation_link(session, staff, form.get("subscription_id", ""))
        errors = desk_errors(exc)
        return _form(
            request,
            staff,
            values=form,
            source=source,
            errors=errors,
            status_code=exc.status_code,
            activation_link=link,
        )
    return redirect(
        request,
        f"/console/licenses/{row.id}",
        flash=f"License saved and queued to {row.licensee_email}.",
    )


async def _activation_link(session: WriteSession, staff: StaffUser, reference: str) -> str | None:
    """The subscription page with its activation code, when the form names one."""
    if not reference.strip():
        return None
    try:
        sub = await subscription_service.resolve(session, principal(staff), reference.strip())
    except LicensorError:
        return None
    return f"/console/subscriptions/{sub.id}"


async def _post(
    request: Request, staff: StaffUser, ctx: Ctx, session: WriteSession, source: Any
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    values = {name: form.get(name, "") for name, _ in FIELDS} | {
        k: form.get(k, "") for k in ("notes", "ticket_link", "label")
    }
    if form.get("action") == "use_customer":
        return await _use_customer(request, staff, session, values, source)
    if form.get("action") == "change_type":  # without script: the chosen type's marks
        return _form(request, staff, values=values, source=source)
    return await _save(request, staff, ctx, session, values, source)


@router.post("/licenses/new")
async def new_license(request: Request, staff: Staff, ctx: Ctx, session: WriteSession) -> Response:
    return await _post(request, staff, ctx, session, None)


@router.post("/licenses/{license_id}/duplicate")
async def duplicate_license(
    request: Request, license_id: str, staff: Staff, ctx: Ctx, session: WriteSession
) -> Response:
    row = await desk.get(session, principal(staff), license_id)
    return await _post(request, staff, ctx, session, Source(row.id, row.license_type))
