"""Sign-in by single sign-on (OpenID Connect): start, callback, choosing a business.

An identity opens a staff account only when its email is verified by the identity
provider and an account with that email exists (or, if the operator opted in with
`LICENSOR_OIDC_AUTO_PROVISION`, is created read_only in the configured business). An
email with accounts in several businesses chooses one, as at password sign-in.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from licensor.console.auth_pages import open_session, safe_next
from licensor.console.forms import FormErrors
from licensor.console.session import allow, guard_post
from licensor.console.web import clear_cookie, render, set_cookie
from licensor.kit.deps import Ctx, reading, writing
from licensor.kit.errors import BadRequest, Forbidden, LicensorError
from licensor.kit.secrets import constant_time_equal
from licensor.staff import service as staff_service

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
# `console.oidc` (Authlib, joserfc, httpx2) is imported at the first single sign-on, not
# when the server starts: most servers never use it.
PENDING_COOKIE = "licensor_console_sso"
CHOICE_COOKIE = "licensor_console_sso_choice"
PENDING_SECONDS = 600
CHOICE_SECONDS = 300


def _seal(request: Request, purpose: str, data: dict[str, object]) -> str:
    blob = request.app.state.ctx.vault.encrypt(json.dumps(data), bound_to=purpose)
    return base64.urlsafe_b64encode(blob).decode()


def _open(request: Request, purpose: str, cookie: str) -> dict[str, object] | None:
    raw = request.cookies.get(cookie)
    if not raw or len(raw) > 8000:
        return None
    try:
        clear = request.app.state.ctx.vault.decrypt(
            base64.urlsafe_b64decode(raw.encode()), bound_to=purpose
        )
        data: dict[str, object] = json.loads(clear)
    except ValueError:
        return None
    return data


def state_invalid() -> BadRequest:
    return BadRequest(
        "the single sign-on answer does not match a sign-in started here "
        "(expired, replayed or forged): start again",
        code="SSO_STATE_INVALID",
    )


def _refused(request: Request, exc: LicensorError) -> Response:
    response = render(
        request,
        "login.html",
        None,
        status_code=exc.status_code,
        errors=FormErrors(general=[exc.message]),
        email="",
        next="",
        choices=[],
        code=exc.code,
    )
    clear_cookie(request, response, PENDING_COOKIE)
    return response


def redirect_uri(request: Request, ctx: Ctx) -> str:
    if ctx.settings.oidc_redirect_url:
        return ctx.settings.oidc_redirect_url
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return origin + "/console/sso/callback"  # the live face's: one URI to register


@router.get("/sso/start")
async def sso_start(request: Request, ctx: Ctx, next: str = "", business_id: str = "") -> Response:
    from licensor.console.oidc import client_of

    client = client_of(request.app.state, ctx.settings)
    target = str(request.scope.get("root_path", "")) + safe_next(next.removeprefix("/test"))
    url, pending = await client.begin(redirect_uri(request, ctx), target, business_id[:64])
    response = RedirectResponse(url, status_code=303)
    data = {**asdict(pending), "until": time.time() + PENDING_SECONDS}
    set_cookie(request, response, PENDING_COOKIE, _seal(request, "sso", data), PENDING_SECONDS)
    return response


@router.get("/sso/callback")
async def sso_callback(
    request: Request,
    ctx: Ctx,
    state: str = "",
    code: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    from licensor.console.oidc import Pending, client_of, sso_failed

    try:
        client = client_of(request.app.state, ctx.settings)
        data = _open(request, "sso", PENDING_COOKIE)
        if data is None or float(str(data.get("until", 0))) < time.time():
            raise state_invalid()
        data.pop("until", None)
        pending = Pending(**{k: str(v) for k, v in data.items()})
        if not state or not constant_time_equal(state.encode(), pending.state.encode()):
            raise state_invalid()
        if error:
            raise sso_failed(f"{error}: {error_description}".strip(": ")[:300])
        identity = await client.finish(pending, code)
        if not identity.email_verified:
            raise Forbidden(
                f"the identity provider has not verified {identity.email}",
                code="EMAIL_NOT_VERIFIED",
            )
        async with reading(ctx.db) as session:
            found = await staff_service.candidates(session, identity.email)
        if pending.business_id:
            found = [c for c in found if c.business_id == pending.business_id]
        if not found and ctx.settings.oidc_auto_provision:
            business = ctx.settings.oidc_auto_provision_business_id
            if business:
                async with writing(ctx.db) as session:
                    found = [
                        await staff_service.provision(
                            session, business, identity.email, identity.name
                        )
                    ]
        if not found:
            raise Forbidden(
                f"{staff_service.normalise_email(identity.email)} has no staff account here: "
                "ask an admin to add you",
                code="NO_STAFF_ACCOUNT",
            )
    except LicensorError as exc:
        return _refused(request, exc)
    response: Response
    if len(found) > 1:
        choice = {"email": identity.email, "next": pending.next, "until": time.time() + 300}
        response = render(
            request,
            "choose_business.html",
            None,
            choices=[(c.business_id, c.business_name) for c in found],
        )
        set_cookie(request, response, CHOICE_COOKIE, _seal(request, "sso-choice", choice), 300)
    else:
        response = await open_session(request, ctx, found[0].staff_id, "sso", None, pending.next)
    clear_cookie(request, response, PENDING_COOKIE)
    return response


@router.post("/sso/choose")
@allow()
async def sso_choose(
    request: Request, ctx: Ctx, business_id: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    """The business chosen after a single sign-on that opened several."""
    data = _open(request, "sso-choice", CHOICE_COOKIE)
    try:
        if data is None or float(str(data.get("until", 0))) < time.time():
            raise state_invalid()
        async with reading(ctx.db) as session:
            found = await staff_service.candidates(session, str(data["email"]))
        chosen = [c for c in found if c.business_id == business_id]
        if not chosen:
            raise state_invalid()
    except LicensorError as exc:
        return _refused(request, exc)
    response = await open_session(request, ctx, chosen[0].staff_id, "sso", None, str(data["next"]))
    clear_cookie(request, response, CHOICE_COOKIE)
    return response
