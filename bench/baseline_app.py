"""The baseline for `bench/validate.py`: a bare ASGI app answering a constant JSON body.

It reads the request body (the benchmark sends the same POSTs as to /licenses/validate)
and answers ~110 bytes of JSON: no framework, no parsing, no database. Whatever Licensor
does on top of this is what the ratio in docs/benchmarks.md measures.
"""

from __future__ import annotations

from typing import Any

BODY = (
    b'{"valid":true,"license_key_id":"lk_benchbenchbenchbenchbench0",'
    b'"status":"active","expires_at":null,"seats":1}'
)
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(START)
    await send(END)
