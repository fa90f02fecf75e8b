"""Sign-in by password, choosing a business, sign-out.

A sign-in names only an email and a password. The password is verified (outside any
transaction) against every account with that email, one per business, up to ten; the
answer is the same for an unknown email and a wrong password. When it opens accounts in
several businesses, the form comes back with a `Business` choice listing only those.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from licensor.console.forms import FormErrors
from licensor.console.session import (
    SESSION_COOKIE,
    MaybeStaff,
    Staff,
    allow,
    guard_post,
)
from licensor.console.web import clear_cookie, redirect, render, set_cookie
from licensor.kit.deps import Ctx, reading, writing
from licensor.kit.errors import LicensorError
from licensor.kit.ratelimit import limited
from licensor.staff import service as staff_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
WRONG = "Wrong email or password."


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a console path on this server (either face; single
    sign-on comes back on the live face and keeps the face it started on in the path),
    else the console's home."""
    if (
        target
        and target.startswith(("/console", "/test/console"))
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return "/console/"


async def open_session(
    request: Request, ctx: Ctx, staff_id: str, method: str, password_hash: str | None, to: str
) -> Response:
    ttl = timedelta(seconds=ctx.settings.console_session_seconds)
    async with writing(ctx.db) as session:
        started = await staff_service.start_session(
            session, ctx.vault, staff_id, method=method, ttl=ttl, password_hash=password_hash
        )
    response = redirect(request, safe_next(to))
    set_cookie(request, response, SESSION_COOKIE, started.token, int(ttl.total_seconds()))
    return response


@router.get("/login")
async def login_page(request: Request, staff: MaybeStaff, next: str = "") -> Response:
    if staff is not None:
        return redirect(request, safe_next(next))
    return render(request, "login.html", None, email="", next=next, choices=[])


@router.post("/login")
@allow()
async def login(
    request: Request,
    ctx: Ctx,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    business_id: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def again(message: str, status: int, choices: list[staff_service.Candidate]) -> Response:
        errors = FormErrors(general=[message])
        return render(
            request,
            "login.html",
            None,
            status_code=status,
            errors=errors,
            email=email,
            next=next,
            choices=[(c.business_id, c.business_name) for c in choices],
        )

    if not email.strip() or not password:
        errors = FormErrors()
        if not email.strip():
            errors.fields["email"] = "Enter your email."
        if not password:
            errors.fields["password"] = "Enter your password."
        return render(
            request,
            "login.html",
            None,
            status_code=422,
            errors=errors,
            email=email,
            next=next,
            choices=[],
        )
    try:
        async with limited(request, "login", "staff\x00" + email.strip().lower()) as outcome:
            async with reading(ctx.db) as session:
                found = await staff_service.candidates(session, email)
            if not found:  # an unknown email still costs one verify
                await ctx.passwords.verify(None, password)
            opened = [c for c in found if await ctx.passwords.verify(c.password_hash, password)]
            if business_id:
                opened = [c for c in opened if c.business_id == business_id]
            if not opened:
                outcome.failed = True
                return again(WRONG, 401, [])
            if len(opened) > 1:
                message = "This email and password open several businesses: choose one."
                return again(message, 409, opened)
            chosen = opened[0]
            return await open_session(
                request, ctx, chosen.staff_id, "password", chosen.password_hash, next
            )
    except LicensorError as exc:
        if exc.status_code == 429:
            return again(exc.message, 429, [])
        if exc.code == "INVALID_CREDENTIALS":
            return again(WRONG, 401, [])
        raise


@router.post("/logout")
@allow("admin", "support", "read_only")
async def logout(request: Request, staff: Staff, ctx: Ctx) -> Response:
    async with writing(ctx.db) as session:
        await staff_service.end_session(session, staff.session_id)
    response = redirect(request, "/console/login", flash="You are signed out.")
    clear_cookie(request, response, SESSION_COOKIE)
    return response
