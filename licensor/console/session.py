"""Who is signed in to the console, the role guard and CSRF: the page handlers' dependencies.

- `Staff` (a dependency) gives the signed-in staff member and the face's mode; without a
  live session the browser is sent to the sign-in page (`SignInRequired`).
- Every POST passes `guard_post` (a dependency of every console router): its CSRF token
  must match the one bound to the session (or, before sign-in, to the pre-session cookie),
  and the staff member's role must be one the route allows: `admin` and `support` unless
  the handler says otherwise with `@allow(...)` (`@allow()` for a route open to anyone,
  such as sign-in). A role that may not post gets a 403 page.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Form, Request

from licensor.kit.deps import Ctx, reading, writing
from licensor.kit.errors import Forbidden
from licensor.kit.secrets import Vault, constant_time_equal, random_token
from licensor.kit.tenancy import Mode, face_mode
from licensor.staff import service as staff_service
from licensor.staff.schemas import Role

SESSION_COOKIE = "licensor_console"
PRE_COOKIE = "licensor_console_pre"  # binds the sign-in form's CSRF token before a session
CSRF_FIELD = "csrf_token"
CSRF_PURPOSE = "console_csrf"
WRITERS: tuple[Role, ...] = ("admin", "support")
F = TypeVar("F", bound=Callable[..., Any])


class SignInRequired(Exception):
    """No live console session: the console's handler redirects to the sign-in page."""


@dataclass(frozen=True)
class StaffUser:
    """The signed-in staff member, as page handlers see it."""

    id: str
    business_id: str
    email: str
    name: str
    role: Role
    mode: Mode  # the face's mode: live at /console/, test at /test/console/
    session_id: str
    csrf: str  # the token every form of this session carries

    def can(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS


def csrf_for(vault: Vault, binding: str) -> str:
    digest = vault.lookup_hash(binding, CSRF_PURPOSE)
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def allow(*roles: Role) -> Callable[[F], F]:
    """The roles that may POST to this handler (none named: anyone, signed in or not)."""

    def mark(fn: F) -> F:
        fn.console_roles = roles  # type: ignore[attr-defined]
        return fn

    return mark


async def current_staff(request: Request, ctx: Ctx) -> StaffUser | None:
    """The live session the cookie names (cached on the request), or None."""
    if "console.staff" in request.scope:
        found: StaffUser | None = request.scope["console.staff"]
        return found
    token = request.cookies.get(SESSION_COOKIE, "")
    user = None
    if token:
        idle = timedelta(seconds=ctx.settings.console_idle_seconds)
        async with reading(ctx.db) as session:
            live = await staff_service.find_session(session, ctx.vault, token, idle)
        if live is not None:
            if live.stale:  # written at most once a minute per session (idle expiry)
                async with writing(ctx.db) as session:
                    await staff_service.touch_session(session, live.session_id)
            user = StaffUser(
                id=live.staff_id,
                business_id=live.business_id,
                email=live.email,
                name=live.name,
                role=live.role,
                mode=face_mode(request.scope),
                session_id=live.session_id,
                csrf=csrf_for(ctx.vault, live.session_id),
            )
            request.state.actor = f"staff:{user.id}"  # the actor of this request's changes
    request.scope["console.staff"] = user
    return user


async def signed_in(request: Request, ctx: Ctx) -> StaffUser:
    user = await current_staff(request, ctx)
    if user is None:
        raise SignInRequired()
    return user


Staff = Annotated[StaffUser, Depends(signed_in)]
MaybeStaff = Annotated[StaffUser | None, Depends(current_staff)]


def pre_session_token(request: Request) -> str:
    """The pre-session cookie's value (a new one when the browser has none yet)."""
    value = request.cookies.get(PRE_COOKIE) or request.scope.get("console.pre")
    if not value or len(value) > 100:
        value = random_token(24)
        request.scope["console.pre_new"] = True
    request.scope["console.pre"] = value
    return str(value)


def anonymous_csrf(request: Request, vault: Vault) -> str:
    return csrf_for(vault, "pre\x00" + pre_session_token(request))


def refuse(message: str) -> Forbidden:
    return Forbidden(message, code="ROLE_REQUIRED")


async def guard_post(
    request: Request,
    ctx: Ctx,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> None:
    """Every console POST: a valid CSRF token, and a role the handler allows."""
    if request.method != "POST":
        return
    route = request.scope.get("route")
    roles: tuple[Role, ...] | None = getattr(
        getattr(route, "endpoint", None), "console_roles", WRITERS
    )
    user = await current_staff(request, ctx)
    if user is not None:
        expected = user.csrf
    elif request.cookies.get(PRE_COOKIE):
        expected = anonymous_csrf(request, ctx.vault)
    else:
        expected = ""
    if not expected or not constant_time_equal(expected.encode(), csrf_token.encode()):
        raise Forbidden(
            "the form's security token is missing or out of date: reload the page and retry",
            code="CSRF_INVALID",
        )
    if not roles:  # open to anyone (sign-in)
        return
    if user is None:
        raise SignInRequired()
    if user.role not in roles:
        raise refuse(f"your role ({user.role}) may not do this: {' or '.join(roles)} only")


def require(*roles: Role) -> Any:
    """A dependency: the signed-in staff member, provided their role is one of `roles`
    (else a 403 page). For GET pages only some roles may see, e.g. the staff page."""

    async def dependency(request: Request, ctx: Ctx) -> StaffUser:
        user = await signed_in(request, ctx)
        if user.role not in roles:
            raise refuse(
                f"your role ({user.role}) may not see this page: {' or '.join(roles)} only"
            )
        return user

    return Depends(dependency)


Admin = Annotated[StaffUser, require("admin")]
