"""The floor for bench/checkin.py: a bare ASGI app that reads the body and answers a
constant JSON document, under the same server, workers and load as the check-in."""

from __future__ import annotations

from typing import Any

BODY = b'{"license":{"active":true,"status":"active"},"kid":"baseline","alg":"EdDSA"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
