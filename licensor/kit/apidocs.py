"""`/docs` without the network: Swagger UI's files come from the `swagger-ui-bundle-v2`
package, served at `/docs/assets/`, instead of FastAPI's default CDN links."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` (either face) with Swagger UI from the package."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", ""))
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} — API",
            swagger_js_url=root + ASSETS + "/swagger-ui-bundle.js",
            swagger_css_url=root + ASSETS + "/swagger-ui.css",
            swagger_favicon_url=root + ASSETS + "/favicon-32x32.png",
        )
