"""`/docs` works offline: Swagger UI's files are served by the server itself."""

from __future__ import annotations

import re

import httpx

from tests.servers import Server


def test_docs_and_their_assets_come_from_the_server(server: Server) -> None:
    for face in ("", "/test"):
        page = httpx.get(server.base_url + face + "/docs")
        assert page.status_code == 200
        assert "cdn." not in page.text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        urls += re.findall(r"url: ?['\"]([^'\"]+)['\"]", page.text)
        assert f"{face}/openapi.json" in urls
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
        assets = [u for u in urls if "/docs/assets/" in u]
        assert {u.rsplit("/", 1)[-1] for u in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
        for url in assets:
            assert url.startswith(face + "/docs/assets/")
            got = httpx.get(server.base_url + url)
            assert got.status_code == 200, url
            assert len(got.content) > 100
        script = httpx.get(server.base_url + face + "/docs/assets/swagger-ui-bundle.js")
        assert "javascript" in script.headers["content-type"]
        assert "SwaggerUIBundle" in script.text
