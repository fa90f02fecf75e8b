"""A thin ASGI handler for the three public routes, in front of FastAPI.

These are the requests shipped software makes all day. Here they cost one body read,
one pydantic parse of the bytes, the checks, and one orjson dump: no routing, no
dependency solving, no middleware stack. Everything else falls through to FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from licensor.kit.errors import LicensorError
from licensor.kit.handlers import describe_validation_errors
from licensor.licenses.schemas import ActivateIn, DeactivateIn, ValidateIn
from licensor.licenses.service import LicenseChecks

log = logging.getLogger("licensor")

MAX_BODY = 64 * 1024


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, payload: bytes | None) -> None:
    headers = [(b"content-length", str(len(payload or b"")).encode())]
    if payload is not None:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload or b""})


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"code": code, "message": message})


class FastLicenseRoutes:
    def __init__(self, app: ASGIApp, checks: Callable[[], LicenseChecks]) -> None:
        self.app = app
        self.checks = checks
        self.routes: dict[
            str, tuple[type[BaseModel], Callable[[Any], Awaitable[tuple[int, bytes | None]]]]
        ] = {
            "/licenses/validate": (ValidateIn, self._validate),
            "/licenses/activate": (ActivateIn, self._activate),
            "/licenses/deactivate": (DeactivateIn, self._deactivate),
        }

    async def _validate(self, body: ValidateIn) -> tuple[int, bytes | None]:
        valid = await self.checks().validate(body)
        return 200, b'{"valid":true}' if valid else b'{"valid":false}'

    async def _activate(self, body: ActivateIn) -> tuple[int, bytes | None]:
        out = await self.checks().activate(body)
        return 201, orjson.dumps(out.model_dump(mode="json"))

    async def _deactivate(self, body: DeactivateIn) -> tuple[int, bytes | None]:
        await self.checks().deactivate(body)
        return 200, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        schema, handler = route
        status: int
        payload: bytes | None
        try:
            body = schema.model_validate_json(await _read_body(receive))
        except _TooLarge:
            await _respond(send, *_error(413, "PAYLOAD_TOO_LARGE", f"body over {MAX_BODY} bytes"))
            return
        except ValidationError as exc:
            errors = [dict(e) for e in exc.errors(include_url=False, include_input=False)]
            await _respond(
                send, *_error(422, "VALIDATION_ERROR", describe_validation_errors(errors))
            )
            return
        try:
            status, payload = await handler(body)
        except LicensorError as exc:
            status, payload = exc.status_code, orjson.dumps(exc.body())
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            status, payload = _error(500, "INTERNAL_ERROR", "internal server error")
        await _respond(send, status, payload)
