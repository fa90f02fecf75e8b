"""The staff page (admins only): add a staff member, change a role, remove one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from licensor.console.forms import FormErrors, form_errors, validated
from licensor.console.session import Admin, allow, guard_post
from licensor.console.web import redirect, render
from licensor.kit.deps import Ctx, ReadSession, WriteSession, writing
from licensor.kit.errors import LicensorError
from licensor.staff import service as staff_service
from licensor.staff.schemas import ROLES, RoleChange, StaffCreate

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
ROLE_CHOICES = [(r, r.replace("_", " ")) for r in ROLES]
BY_CODE = {"STAFF_EXISTS": "email"}


async def _page(
    request: Request,
    staff: Admin,
    session: ReadSession | None,
    ctx: Ctx,
    *,
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if session is None:
        async with ctx.db.read_sessions() as read:
            members = await staff_service.list_staff(read, staff.business_id)
    else:
        members = await staff_service.list_staff(session, staff.business_id)
    return render(
        request,
        "staff.html",
        staff,
        status_code=status_code,
        errors=errors,
        members=members,
        roles=ROLE_CHOICES,
        form=form or {"email": "", "name": "", "role": "support"},
    )


@router.get("/staff")
async def staff_page(request: Request, staff: Admin, session: ReadSession, ctx: Ctx) -> Response:
    return await _page(request, staff, session, ctx)


@router.post("/staff")
@allow("admin")
async def add_staff(
    request: Request,
    staff: Admin,
    ctx: Ctx,
    email: Annotated[str, Form(max_length=1000)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    form = {"email": email, "name": name, "role": role}
    try:
        body = StaffCreate.model_validate(
            {"email": email, "name": name, "role": role, "password": password or None}
        )
        hashed = await ctx.passwords.hash(body.password) if body.password else None  # no tx
        async with writing(ctx.db) as session:
            row = await staff_service.add_staff(session, staff.business_id, body, hashed)
    except (ValidationError, LicensorError) as exc:
        errors = form_errors(exc, BY_CODE)
        status = 422 if isinstance(exc, ValidationError) else exc.status_code
        return await _page(request, staff, None, ctx, errors=errors, form=form, status_code=status)
    return redirect(request, "/console/staff", flash=f"Added {row.email} ({row.role}).")


@router.post("/staff/{staff_id}/role")
@allow("admin")
async def change_role(
    request: Request,
    staff_id: str,
    staff: Admin,
    session: WriteSession,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    body = validated(RoleChange, {"role": role})
    row = await staff_service.set_role(session, staff.business_id, staff_id, body.role)
    return redirect(request, "/console/staff", flash=f"{row.email} is now {row.role}.")


@router.post("/staff/{staff_id}/remove")
@allow("admin")
async def remove_staff(
    request: Request, staff_id: str, staff: Admin, session: WriteSession
) -> Response:
    row = await staff_service.remove_staff(session, staff.business_id, staff_id)
    return redirect(request, "/console/staff", flash=f"Removed {row.email}.")
