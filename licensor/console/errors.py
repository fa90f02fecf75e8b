"""Errors on console pages: the one error handler asks `error_page` first; under
`/console` it answers with an HTML page (same code and message), or the sign-in page."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from licensor.console.headers import is_console
from licensor.console.session import SignInRequired
from licensor.console.web import href, render
from licensor.kit.tenancy import route_path


def error_page(
    request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None
) -> Response | None:
    """An HTML error page for a console request; None for any other request."""
    if not is_console(request.scope):
        return None
    staff = request.scope.get("console.staff")
    keep = {k: v for k, v in (headers or {}).items() if k.lower() == "retry-after"}
    response = render(request, "error.html", staff, status_code=status, code=code, message=message)
    response.headers.update(keep)
    return response


async def sign_in_required(request: Request, _: Exception) -> Response:
    """To the sign-in page, coming back here after (GET pages only)."""
    target = "/console/login"
    if request.method == "GET":
        target += "?next=" + quote(route_path(request.scope), safe="/")
    return RedirectResponse(href(request, target), status_code=303)


__all__ = ["SignInRequired", "error_page", "sign_in_required"]
