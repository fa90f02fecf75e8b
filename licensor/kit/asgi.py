"""Plumbing for the thin ASGI handlers that answer the hot routes before FastAPI.

They must answer every request exactly as the FastAPI route for the same path would
(tests/test_parity.py runs one table against both): `json_body` and `validate_body`
repeat FastAPI's reading of a JSON body parameter. Only a body sent as JSON
(`application/json` or `application/*+json`) is parsed; any other content type, or none,
hands the raw bytes to validation, which refuses them with FastAPI's words. Body size and
read time are bounded before this, by the edge (`kit/edge.py`).
"""

from __future__ import annotations

import email.message
import json
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from licensor.kit.errors import Unprocessable
from licensor.kit.handlers import UNDECODABLE_BODY, describe_validation_errors

JSON = b"application/json"
MISSING: Any = object()  # no body at all (FastAPI's `Undefined`)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (the edge has already bounded its size and read time)."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def content_type(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value)
    return None


def is_json_type(value: bytes | None) -> bool:
    """FastAPI's rule: a JSON body is `application/json` or `application/<x>+json`."""
    if not value:
        return False
    if value == JSON:
        return True
    message = email.message.Message()
    message["content-type"] = value.decode("latin-1")
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def json_body(scope: Scope, raw: bytes) -> Any:
    """What FastAPI passes to validation: MISSING, the decoded JSON, or the raw bytes."""
    if not raw:
        return MISSING
    if not is_json_type(content_type(scope)):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "ctx": {"error": exc.msg},
        }
        raise Unprocessable(describe_validation_errors([error])) from exc
    except ValueError as exc:  # not UTF-8: FastAPI's 400, which the handler words as 422
        raise Unprocessable(UNDECODABLE_BODY) from exc


def validate_body(adapter: TypeAdapter[Any], value: Any, *, required: bool) -> Any:
    """Validate as FastAPI validates a body parameter (python mode, from attributes)."""
    if value is MISSING:
        if required:
            missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
            raise Unprocessable(describe_validation_errors([missing]))
        return None
    try:
        return adapter.validate_python(value, from_attributes=True)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False, include_input=False)]
        raise Unprocessable(describe_validation_errors(errors)) from exc


async def respond(
    send: Send,
    status: int,
    payload: bytes | None,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Send a complete response: a JSON payload, or an empty body when it is None."""
    headers = [(b"content-length", str(len(payload or b"")).encode())]
    if payload is not None:
        headers.append((b"content-type", JSON))
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload or b""})
