"""The console's routers, static files, headers and error pages, installed on the app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from licensor.console import (
    auth_pages,
    desk_forms,
    desk_pages,
    key_pages,
    offline_pages,
    pages,
    queue_pages,
    sso_pages,
    staff_pages,
    subscription_pages,
    webhook_pages,
)
from licensor.console.errors import SignInRequired, error_page, sign_in_required
from licensor.console.headers import ConsoleHeaders
from licensor.console.web import HERE

# desk_forms before desk_pages: /console/licenses/new before /console/licenses/{id}
ROUTERS = (
    auth_pages.router,
    sso_pages.router,
    pages.router,
    staff_pages.router,
    desk_forms.router,
    desk_pages.router,
    subscription_pages.router,
    key_pages.router,
    offline_pages.router,
    queue_pages.router,
    webhook_pages.router,
)


def install_console(app: FastAPI) -> None:
    """Mount the console at `/console/` (and so `/test/console/` through `ModeFace`)."""
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.state.error_page = error_page
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_middleware(ConsoleHeaders)
