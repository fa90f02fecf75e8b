"""A thin ASGI handler for the four public routes, in front of FastAPI.

These are the requests shipped software makes all day. Here they cost one body read,
one parse of the bytes, the checks, and one orjson dump: no routing, no dependency
solving, no middleware stack. Everything else falls through to FastAPI.

Every answer is the one the FastAPI route would give (`kit/asgi.py` reads the body as
FastAPI does: only a JSON content type is parsed). Validate, the most frequent, parses a
JSON body with orjson and an exact check of its two fields (`quick_validate_input`); only
a body that check does not accept goes the FastAPI way, which then gives the same answer
or the same 422. Its few possible answers (`{"valid", "state", "code"?}`: machines.py)
are prebuilt ASGI messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from licensor.kit.asgi import JSON, content_type, is_json_type, json_body, read_body, respond
from licensor.kit.asgi import validate_body as validate_as_fastapi
from licensor.kit.errors import LicensorError
from licensor.kit.origin import request_id_header, scope_origin
from licensor.kit.ratelimit import RateLimiter, error_headers
from licensor.kit.schemas import has_control_characters
from licensor.kit.tenancy import Mode, face_mode, route_path
from licensor.license_key.machines import UNKNOWN, Verdict
from licensor.license_key.public_schemas import ActivateIn, DeactivateIn, HeartbeatIn, ValidateIn
from licensor.license_key.public_service import LicenseChecks
from licensor.license_key.schemas import is_printable_key

log = logging.getLogger("licensor")


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"code": code, "message": message})


def _prebuilt(status: int, payload: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two messages `respond` would send for this answer, built once."""
    headers = [(b"content-length", str(len(payload)).encode()), (b"content-type", JSON)]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": payload},
    )


INVALID_BODY = UNKNOWN
INVALID = _prebuilt(200, INVALID_BODY)
_ANSWERS: dict[Verdict, tuple[dict[str, Any], dict[str, Any]]] = {}


def answer_of(verdict: Verdict | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The prebuilt messages of a validate answer (one pair per distinct answer)."""
    if verdict is None:
        return INVALID
    found = _ANSWERS.get(verdict)
    if found is None:
        found = _ANSWERS[verdict] = _prebuilt(200, verdict.body)
    return found


def refused(payload: bytes | None) -> bool:
    """A validate answer that says no (it costs the rate limit's failure price)."""
    return payload is not None and payload.startswith(INVALID_BODY[:-1])


KEY_MAX = 512  # KeyText
ID_MAX = 64  # Id


def _quick_id(data: dict[str, Any], name: str) -> tuple[bool, str | None]:
    """(acceptable, value) of an optional `Id` field, as pydantic would judge it."""
    value = data.get(name)
    if value is None:
        return True, None
    ok = type(value) is str and 0 < len(value) <= ID_MAX and not has_control_characters(value)
    return ok, value if ok else None


def quick_validate_input(raw: bytes) -> tuple[str, str | None, str | None] | None:
    """(license_key, license_key_instance_id, product_id) when `ValidateIn` would accept
    `raw` with these very values; None when unsure (then pydantic decides, and words any
    error)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or "fingerprint" in data or "nonce" in data:  # pydantic's path
        return None
    key = data.get("license_key")
    if type(key) is not str or not 0 < len(key) <= KEY_MAX or not is_printable_key(key):
        return None
    instance_ok, instance = _quick_id(data, "license_key_instance_id")
    product_ok, product = _quick_id(data, "product_id")
    if not (instance_ok and product_ok):
        return None
    return key, instance, product


VALIDATE: TypeAdapter[ValidateIn] = TypeAdapter(ValidateIn)


class ChecksSlot:
    """Where the app's lifespan puts the `LicenseChecks` of this process (None outside it)."""

    __slots__ = ("checks",)

    def __init__(self) -> None:
        self.checks: LicenseChecks | None = None

    def get(self) -> LicenseChecks:
        if self.checks is None:
            raise RuntimeError("the license checks are not ready (lifespan not started)")
        return self.checks


class FastLicenseRoutes:
    def __init__(self, app: ASGIApp, slot: ChecksSlot, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self.slot = slot
        self.checks = slot.get
        self.routes: dict[
            str,
            tuple[
                TypeAdapter[Any],
                Callable[[Any, Mode, Scope], Awaitable[tuple[int, bytes | None]]],
            ],
        ] = {
            "/licenses/validate": (VALIDATE, self._validate),
            "/licenses/activate": (TypeAdapter(ActivateIn), self._activate),
            "/licenses/deactivate": (TypeAdapter(DeactivateIn), self._deactivate),
            "/licenses/heartbeat": (TypeAdapter(HeartbeatIn), self._heartbeat),
        }

    async def _validate(
        self, body: ValidateIn, mode: Mode, scope: Scope
    ) -> tuple[int, bytes | None]:
        if body.nonce is not None:
            answer = await self.checks().signed_validate(body, mode, body.nonce)
            return 200, orjson.dumps(answer)
        verdict = await self.checks().validate(body, mode)
        return 200, INVALID_BODY if verdict is None else verdict.body

    async def _activate(
        self, body: ActivateIn, mode: Mode, scope: Scope
    ) -> tuple[int, bytes | None]:
        origin = scope_origin(scope, self.limiter.proxies)
        out = await self.checks().activate(body, mode, origin)
        return 201, orjson.dumps(out.model_dump(mode="json"))

    async def _heartbeat(
        self, body: HeartbeatIn, mode: Mode, scope: Scope
    ) -> tuple[int, bytes | None]:
        out = await self.checks().heartbeat(body, mode)
        return 200, orjson.dumps(out.model_dump(mode="json"))

    async def _deactivate(
        self, body: DeactivateIn, mode: Mode, scope: Scope
    ) -> tuple[int, bytes | None]:
        await self.checks().deactivate(body, mode, scope_origin(scope, self.limiter.proxies))
        return 200, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(route_path(scope)) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        adapter, handler = route
        status: int
        payload: bytes | None
        raw = await read_body(receive)
        if adapter is VALIDATE and raw and is_json_type(content_type(scope)):
            quick = quick_validate_input(raw)
            if quick is not None:
                await self._quick_validate(scope, send, face_mode(scope), *quick)
                return
        try:
            body: BaseModel = validate_as_fastapi(adapter, json_body(scope, raw), required=True)
        except LicensorError as exc:
            await respond(send, exc.status_code, orjson.dumps(exc.body()))
            return
        admission = None
        headers: tuple[tuple[bytes, bytes], ...] = ()
        try:
            target: str = body.license_key  # type: ignore[attr-defined]  # all three have it
            admission = await self.limiter.admit("license", scope, target)
            status, payload = await handler(body, face_mode(scope), scope)
            if adapter is VALIDATE and refused(payload):
                await self.limiter.failed(admission)
        except LicensorError as exc:
            await self.limiter.failed_on(admission, exc)
            status, payload, headers = exc.status_code, orjson.dumps(exc.body()), error_headers(exc)
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            status, payload = _error(500, "INTERNAL_ERROR", "internal server error")
        await respond(send, status, payload, headers + request_id_header(scope))

    async def _quick_validate(
        self,
        scope: Scope,
        send: Send,
        mode: Mode,
        license_key: str,
        instance_id: str | None,
        product_id: str | None,
    ) -> None:
        try:
            admission = await self.limiter.admit("license", scope, license_key)
            checks = self.slot.checks or self.slot.get()
            verdict = await checks.check(license_key, instance_id, mode, product_id)
            if verdict is None or not verdict.valid:
                await self.limiter.failed(admission)
        except LicensorError as exc:
            await respond(send, exc.status_code, orjson.dumps(exc.body()), error_headers(exc))
            return
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            await respond(send, *_error(500, "INTERNAL_ERROR", "internal server error"))
            return
        start, body = answer_of(verdict)
        await send(start)
        await send(body)
