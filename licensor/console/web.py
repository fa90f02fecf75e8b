"""Rendering for page handlers: one template environment, the common context, redirects
with a flash message, links that stay on the face's mode, and the console's cookies."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from licensor.console.forms import FormErrors
from licensor.console.session import (
    CSRF_FIELD,
    PRE_COOKIE,
    StaffUser,
    anonymous_csrf,
)
from licensor.kit.context import AppContext
from licensor.kit.tenancy import Mode, face_mode, face_url, route_path

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
FLASH_COOKIE = "licensor_console_flash"
FLASH_PURPOSE = "console_flash"
NAVIGATION = (  # (label, path below the face): the header's links, in order
    ("Licenses", "/console/licenses"),
    ("Subscriptions", "/console/subscriptions"),
    ("License keys", "/console/license-keys"),
    ("Email queue", "/console/email-queue"),
    ("Webhooks", "/console/webhooks"),
    ("Staff", "/console/staff"),
)


def href(request: Request, path: str) -> str:
    """`path` (e.g. `/console/staff`) on this request's face: `/test/console/staff` in test."""
    return str(request.scope.get("root_path", "")) + path


def mode_href(request: Request, mode: Mode) -> str:
    """The same page on `mode`'s face (the mode switch), with its query."""
    query = request.url.query
    return (
        face_url(request.scope, "", mode)
        + route_path(request.scope)
        + (f"?{query}" if query else "")
    )


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure(request))


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def redirect(request: Request, path: str, *, flash: str | None = None) -> RedirectResponse:
    """303 to `path` on this face, with an optional one-time message for the next page."""
    response = RedirectResponse(href(request, path), status_code=303)
    if flash:
        blob = _ctx(request).vault.encrypt(flash[:500], bound_to=FLASH_PURPOSE)
        set_cookie(request, response, FLASH_COOKIE, base64.urlsafe_b64encode(blob).decode(), 60)
    return response


def _take_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        blob = base64.urlsafe_b64decode(raw.encode())
        return _ctx(request).vault.decrypt(blob, bound_to=FLASH_PURPOSE)
    except ValueError:
        return None


def render(
    request: Request,
    template: str,
    staff: StaffUser | None,
    *,
    status_code: int = 200,
    errors: FormErrors | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page with the common context: `staff`, `mode`, `csrf_field`, `href`, `can`,
    `nav`, `flash`, `errors` (a `FormErrors`, empty by default) and `context`."""
    ctx = _ctx(request)
    flash = _take_flash(request)
    csrf = staff.csrf if staff is not None else anonymous_csrf(request, ctx.vault)
    values: dict[str, Any] = {
        "request": request,
        "staff": staff,
        "mode": face_mode(request.scope),
        "csrf_name": CSRF_FIELD,
        "csrf": csrf,
        "href": lambda path: href(request, path),
        "mode_href": lambda mode: mode_href(request, mode),
        "can": (lambda *roles: staff is not None and staff.role in roles),
        "nav": [(label, href(request, path), path) for label, path in NAVIGATION],
        "here": route_path(request.scope),
        "flash": flash,
        "errors": errors or FormErrors(),
        "sso": ctx.settings.oidc_configured,
    }
    values.update(context)
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    if flash is not None:
        clear_cookie(request, response, FLASH_COOKIE)
    if request.scope.get("console.pre_new"):
        set_cookie(request, response, PRE_COOKIE, request.scope["console.pre"], None)
    return response
