"""A thin ASGI layer for `POST /api/v1/licensing/validate`, in front of everything else.

A self-hosted instance's check-in costs one header lookup, at most one small body
parse, one raw query, one Ed25519 signature and one orjson dump. Every other request,
and the lifespan, falls through (the app's lifespan closes the check-in store).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from licensor.instance_keys.checkin import checkins_for
from licensor.instance_keys.schemas import CheckinIn
from licensor.kit.asgi import json_body, read_body, respond, validate_body
from licensor.kit.errors import LicensorError
from licensor.kit.ratelimit import RateLimiter, error_headers
from licensor.kit.tenancy import face_mode, route_path

log = logging.getLogger("licensor")

PATH = "/api/v1/licensing/validate"
EMPTY = CheckinIn()
BODY: TypeAdapter[CheckinIn | None] = TypeAdapter(CheckinIn | None)  # the route's `body` type


def _error(code: str, message: str) -> bytes:
    return orjson.dumps({"code": code, "message": message})


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


class InstanceCheckinRoute:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: holds the context and the service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            raw = await read_body(receive)
            body = validate_body(BODY, json_body(scope, raw), required=False) or EMPTY
        except LicensorError as exc:
            await respond(send, exc.status_code, orjson.dumps(exc.body()))
            return
        limiter: RateLimiter = self.state.rate_limiter
        admission = None
        headers: tuple[tuple[bytes, bytes], ...] = ()
        try:
            authorization = _authorization(scope)
            admission = await limiter.admit("checkin", scope, authorization or "")
            checkins = await checkins_for(self.state)
            status, payload = 200, await checkins.check_in(authorization, body, face_mode(scope))
        except LicensorError as exc:
            await limiter.failed_on(admission, exc)
            status, payload, headers = exc.status_code, orjson.dumps(exc.body()), error_headers(exc)
        except Exception:
            log.exception("unhandled error on %s", PATH)
            status, payload = 500, _error("INTERNAL_ERROR", "internal server error")
        await respond(send, status, payload, headers)
