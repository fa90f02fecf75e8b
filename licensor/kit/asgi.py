"""Plumbing for the thin ASGI handlers that answer the hot routes before FastAPI."""

from __future__ import annotations

from starlette.types import Receive, Send

JSON = b"application/json"


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or BodyTooLarge as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


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
