"""A thin ASGI handler for the three public routes, in front of FastAPI.

These are the requests shipped software makes all day. Here they cost one body read,
one parse of the bytes, the checks, and one orjson dump: no routing, no dependency
solving, no middleware stack. Everything else falls through to FastAPI.

Every answer is the one the FastAPI route would give (`kit/asgi.py` reads the body as
FastAPI does: only a JSON content type is parsed). Validate, the most frequent, parses a
JSON body with orjson and an exact check of its two fields (`quick_validate_input`); only
a body that check does not accept goes the FastAPI way, which then gives the same answer
or the same 422. Its two possible answers are prebuilt ASGI messages.
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
from licensor.kit.schemas import has_control_characters
from licensor.license_key.schemas import is_printable_key
from licensor.licenses.schemas import ActivateIn, DeactivateIn, ValidateIn
from licensor.licenses.service import LicenseChecks

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


VALID = _prebuilt(200, b'{"valid":true}')
INVALID = _prebuilt(200, b'{"valid":false}')
KEY_MAX = 512  # KeyText
ID_MAX = 64  # Id


def quick_validate_input(raw: bytes) -> tuple[str, str | None] | None:
    """(license_key, license_key_instance_id) when `ValidateIn` would accept `raw` with
    these very values; None when unsure (then pydantic decides, and words any error)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict:
        return None
    key = data.get("license_key")
    if type(key) is not str or not 0 < len(key) <= KEY_MAX or not is_printable_key(key):
        return None
    instance = data.get("license_key_instance_id")
    if instance is not None and (
        type(instance) is not str
        or not 0 < len(instance) <= ID_MAX
        or has_control_characters(instance)
    ):
        return None
    return key, instance


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
    def __init__(self, app: ASGIApp, slot: ChecksSlot) -> None:
        self.app = app
        self.slot = slot
        self.checks = slot.get
        self.routes: dict[
            str, tuple[TypeAdapter[Any], Callable[[Any], Awaitable[tuple[int, bytes | None]]]]
        ] = {
            "/licenses/validate": (VALIDATE, self._validate),
            "/licenses/activate": (TypeAdapter(ActivateIn), self._activate),
            "/licenses/deactivate": (TypeAdapter(DeactivateIn), self._deactivate),
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
        adapter, handler = route
        status: int
        payload: bytes | None
        raw = await read_body(receive)
        if adapter is VALIDATE and raw and is_json_type(content_type(scope)):
            quick = quick_validate_input(raw)
            if quick is not None:
                await self._quick_validate(scope, send, *quick)
                return
        try:
            body: BaseModel = validate_as_fastapi(adapter, json_body(scope, raw), required=True)
        except LicensorError as exc:
            await respond(send, exc.status_code, orjson.dumps(exc.body()))
            return
        try:
            status, payload = await handler(body)
        except LicensorError as exc:
            status, payload = exc.status_code, orjson.dumps(exc.body())
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            status, payload = _error(500, "INTERNAL_ERROR", "internal server error")
        await respond(send, status, payload)

    async def _quick_validate(
        self, scope: Scope, send: Send, license_key: str, instance_id: str | None
    ) -> None:
        try:
            checks = self.slot.checks or self.slot.get()
            valid = await checks.check(license_key, instance_id)
        except LicensorError as exc:
            await respond(send, exc.status_code, orjson.dumps(exc.body()))
            return
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            await respond(send, *_error(500, "INTERNAL_ERROR", "internal server error"))
            return
        start, body = VALID if valid else INVALID
        await send(start)
        await send(body)
