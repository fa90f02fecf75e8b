"""The license desk in the console: the licenses list, a license's page, its file, its
notes and its emails. The rules are the desk's services (the API's); forms to issue and
duplicate are in `desk_forms.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError
from starlette.responses import Response

from licensor.audit import service as audit
from licensor.console.desk_common import LABEL_CHOICES, TYPE_NAMES, principal
from licensor.console.forms import FormErrors, form_errors
from licensor.console.session import Staff, guard_post
from licensor.console.web import redirect, render
from licensor.delivery import service as delivery
from licensor.delivery.schemas import DeliveryCreate
from licensor.kit.clock import utcnow
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import LicensorError
from licensor.kit.pagination import PageParams
from licensor.license_desk import licensefile, mail, rules, search
from licensor.license_desk import service as desk
from licensor.license_desk.schemas import NoteCreate
from licensor.license_key import service as key_service
from licensor.models import DeskLicense
from licensor.subscription import service as subscription_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
PENDING = ("queued", "sending")


@router.get("/licenses")
async def licenses(
    request: Request,
    staff: Staff,
    ctx: Ctx,
    session: ReadSession,
    trial: Annotated[bool | None, Query()] = None,
) -> Response:
    """The newest licenses (the header's box searches them), with `Add new License`."""
    wanted = search.search_of(ctx.vault, trial=trial)
    rows = await search.list_page(session, principal(staff), _first_page(50), wanted)
    return render(
        request,
        "desk/licenses.html",
        staff,
        licenses=await _results(session, ctx, rows),
        keys=[],
        trial=trial,
    )


@router.get("/search")
async def search_box(
    request: Request,
    staff: Staff,
    ctx: Ctx,
    session: ReadSession,
    q: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """The header's one box: licenses and license keys (the API's `q`)."""
    who = principal(staff)
    rows: list[DeskLicense] = []
    keys: list[object] = []
    if q.strip():
        wanted = search.search_of(ctx.vault, q=q)
        rows = await search.list_page(session, who, _first_page(50), wanted)
        keys = list(
            await key_service.list_page(
                session,
                ctx.vault,
                who,
                _first_page(50),
                customer_id=None,
                product_id=None,
                status=None,
                source=None,
                created_at_gte=None,
                created_at_lte=None,
                search=key_service.search_of(ctx.vault, who, q=q),
            )
        )
    return render(
        request,
        "search.html",
        staff,
        q=q.strip(),
        licenses=await _results(session, ctx, rows),
        keys=keys,
    )


@router.get("/licenses/{license_id}")
async def license_page(
    request: Request, license_id: str, staff: Staff, ctx: Ctx, session: ReadSession
) -> Response:
    return await _license_page(request, license_id, staff, ctx, session)


async def _license_page(
    request: Request,
    license_id: str,
    staff: Staff,
    ctx: Ctx,
    session: ReadSession | WriteSession,
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    who = principal(staff)
    row = await desk.get(session, who, license_id)
    (out,) = await desk.to_out(session, ctx.vault, [row])
    jobs = [delivery.to_out(j) for j in await delivery.jobs_of(session, who, row.id)]
    source = None
    if row.duplicated_from_id:
        source = await _maybe_get(session, staff, row.duplicated_from_id)
    subscription = None
    if row.subscription_id:
        subscription = await subscription_service.get(session, who, row.subscription_id)
    return render(
        request,
        "desk/license.html",
        staff,
        status_code=status_code,
        errors=errors,
        license=out,
        type_name=TYPE_NAMES.get(row.license_type, row.license_type),
        status=rules.status_of(row, utcnow()),
        subscription=subscription,
        source=source,
        duplicates=await desk.duplicates_of(session, row),
        deliveries=list(reversed(jobs)),
        pending=any(j.status in PENDING for j in jobs),
        history=await audit.history(session, row.business_id, row.mode, "desk_license", row.id),
        label_choices=LABEL_CHOICES,
        typed=typed or {},
    )


@router.get("/licenses/{license_id}/file")
async def license_file(
    license_id: str, staff: Staff, ctx: Ctx, session: WriteSession
) -> PlainTextResponse:
    """Download license file: the API's `GET /licenses/{id}/file`."""
    row = await desk.get(session, principal(staff), license_id)
    text = await licensefile.license_file(session, ctx.vault, row)
    return PlainTextResponse(
        text,
        media_type="application/x-licensor-license",
        headers={"Content-Disposition": f'attachment; filename="{mail.filename_of(row)}"'},
    )


@router.post("/licenses/{license_id}/notes")
async def add_note(
    request: Request, license_id: str, staff: Staff, ctx: Ctx, session: WriteSession
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    row = await desk.get(session, principal(staff), license_id)
    try:
        body = NoteCreate.model_validate(
            {
                "text": form.get("notes", ""),
                "ticket_link": form.get("ticket_link", ""),
                "label": form.get("label", ""),
            }
        )
    except ValidationError as exc:
        errors = form_errors(exc)
        if "text" in errors.fields:
            errors.fields["notes"] = errors.fields.pop("text")
        return await _license_page(
            request, license_id, staff, ctx, session, errors=errors, typed=form, status_code=422
        )
    await desk.add_note(
        session, row, staff.email, body.text, ticket_link=body.ticket_link, label=body.label
    )
    return redirect(request, f"/console/licenses/{row.id}", flash="Note added.")


@router.post("/licenses/{license_id}/send")
async def send_elsewhere(
    request: Request, license_id: str, staff: Staff, ctx: Ctx, session: WriteSession
) -> Response:
    """`Send to a different address`: its own action, with a required reason (kept)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    row = await desk.get(session, principal(staff), license_id)
    errors = FormErrors()
    try:
        body = DeliveryCreate.model_validate(
            {"to": form.get("to") or None, "reason": form.get("reason") or None}
        )
        if body.to is None:
            errors.fields["to"] = "Enter the address to send the license to."
        else:
            await mail.send_license(session, ctx, row, to=body.to, reason=body.reason)
    except (ValidationError, LicensorError) as exc:
        await session.rollback()  # nothing of a refused email is kept
        errors = form_errors(exc, {"REASON_REQUIRED": "reason"})
        if isinstance(exc, LicensorError) and not errors.fields:
            errors = FormErrors(fields={"to": exc.message})
    if errors:
        return await _license_page(
            request, license_id, staff, ctx, session, errors=errors, typed=form, status_code=422
        )
    return redirect(request, f"/console/licenses/{row.id}", flash=f"Queued to {body.to}.")


async def _maybe_get(session: ReadSession | WriteSession, staff: Staff, license_id: str) -> object:
    try:
        return await desk.get(session, principal(staff), license_id)
    except LicensorError:
        return None


async def _results(
    session: ReadSession | WriteSession, ctx: Ctx, rows: list[DeskLicense]
) -> list[dict[str, object]]:
    now = utcnow()
    outs = await desk.to_out(session, ctx.vault, rows)
    return [
        {
            "license": out,
            "type_name": TYPE_NAMES.get(out.license_type, out.license_type),
            "status": rules.status_of(row, now),
        }
        for row, out in zip(rows, outs, strict=True)
    ]


def _first_page(size: int) -> PageParams:
    return PageParams(page_number=0, page_size=size)
