"""The edge: limits every connection and request meets before any routing.

`licensor serve` runs uvicorn with this HTTP protocol (httptools underneath). It enforces,
per connection and before the ASGI app (thin handlers or FastAPI) sees a byte:

- a header cap: request line plus headers over `max_header_bytes` is `431`, checked while
  the headers stream in (memory stays bounded) and exactly once they are complete;
- a header timeout: from the connection (or the first byte of a later request on a kept
  alive connection) to the end of the headers; `408` then close, or a silent close when
  not a byte of a request came;
- a body limit: a `Content-Length` over `max_body_bytes` is `413` at once, without reading
  the body; a streamed (chunked) body is cut with `413` as soon as it passes the limit;
- a body timeout: from the end of the headers to the end of the body; `408` then close;
- a concurrency cap: more than `max_concurrency` connections or requests in flight in
  this process is `503` (a connection over the cap is answered and closed at once).

Every refusal is JSON `{"code", "message"}` (the codes of `kit/errors.py`) with
`connection: close`. Timers are armed only when a read leaves a request unfinished, so a
request that arrives in one read costs no timer at all.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from licensor.config import Settings
from licensor.kit.errors import (
    HeadersTooLarge,
    LicensorError,
    PayloadTooLarge,
    RequestTimeout,
    ServiceUnavailable,
)

# Descriptors a process keeps for itself besides client connections: the listening
# socket, the event loop's own, log files, and database connections (docs/architecture.md).
RESERVED_FDS = 64
FDS_PER_POOL_SLOT = 6

HEAD, BODY, DONE = 0, 1, 2
STATUS_TEXT = {
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_body: int
    max_header: int
    header_timeout: float
    body_timeout: float
    concurrency: int


def effective_concurrency(settings: Settings, soft_fd_limit: int | None = None) -> int:
    """The configured cap, lowered to fit under the open-file limit so that the cap, not a
    failing accept(), is what a flood meets."""
    if soft_fd_limit is None:
        soft_fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_fd_limit == resource.RLIM_INFINITY:
        return settings.max_concurrency
    room = soft_fd_limit - RESERVED_FDS - FDS_PER_POOL_SLOT * settings.db_pool_size
    return max(1, min(settings.max_concurrency, room))


STATE_KEY = "licensor.edge_limits"  # where the app's lifespan state holds its Limits


def limits_of(s: Settings) -> Limits:
    """The protocol's limits from the app's settings: the app's lifespan yields them as
    lifespan state (`{STATE_KEY: ...}`), which uvicorn hands every connection."""
    return Limits(
        max_body=s.max_body_bytes,
        max_header=s.max_header_bytes,
        header_timeout=s.header_timeout_seconds,
        body_timeout=s.body_timeout_seconds,
        concurrency=effective_concurrency(s),
    )


def raw_response(error: LicensorError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = orjson.dumps(error.body())
    lines = [b"HTTP/1.1 %d %s\r\n" % (error.status_code, STATUS_TEXT[error.status_code])]
    lines.extend(name + b": " + value + b"\r\n" for name, value in default_headers)
    lines.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
    lines.append(b"connection: close\r\n\r\n")
    lines.append(body)
    return b"".join(lines)


def refusing_app(error: LicensorError) -> Any:
    """An ASGI app that answers `error` and closes the connection, without reading a byte."""
    body = orjson.dumps(error.body())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def too_large_body(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is over {limit} bytes")


class EdgeProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = self.app_state.get(STATE_KEY)  # set by the lifespan before any accept()
        self.limits: Limits = limits if limits is not None else limits_of(Settings())
        self.limit_concurrency = None  # uvicorn's own check answers in text; this one in JSON
        self._app = self.app
        self._phase = HEAD
        self._started = False  # a byte of the current request has arrived
        self._head_bytes = 0
        self._body_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_phase = -1

    # connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.concurrency:
            self._refuse(ServiceUnavailable("the server is at its connection limit"))
            return
        self._arm(HEAD, self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase != BODY:
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._phase == HEAD and self._started:
            if self._head_bytes > self.limits.max_header:
                self._refuse(self._headers_too_large())
            elif self._timer is None:
                self._arm(HEAD, self.limits.header_timeout)
        elif self._phase == BODY and self._timer_phase != BODY:
            self._arm(BODY, self.limits.body_timeout)

    # parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = HEAD
        self._started = True
        self._body_bytes = 0

    def on_headers_complete(self) -> None:
        self._disarm()
        self._phase = BODY
        self._head_bytes = 0
        refusal = self._refusal()
        if refusal is None:
            super().on_headers_complete()
            return
        self.app = refusing_app(refusal)
        try:
            super().on_headers_complete()
        finally:
            self.app = self._app

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body:
            self._cut(too_large_body(self.limits.max_body))
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._phase = DONE
        self._started = False
        super().on_message_complete()

    # the limits
    def _headers_too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"the request line and headers are over {self.limits.max_header} bytes"
        )

    def _refusal(self) -> LicensorError | None:
        size = len(self.url) + 16
        length = None
        for name, value in self.headers:
            size += len(name) + len(value) + 4
            if name == b"content-length":
                length = value
        if size > self.limits.max_header:
            return self._headers_too_large()
        if len(self.connections) > self.limits.concurrency or (
            len(self.tasks) >= self.limits.concurrency
        ):
            return ServiceUnavailable("the server is at its concurrency limit; retry shortly")
        if length is not None and (not length.isdigit() or int(length) > self.limits.max_body):
            return too_large_body(self.limits.max_body)  # httptools refuses a malformed one first
        return None

    def _arm(self, phase: int, seconds: float) -> None:
        self._disarm()
        self._timer_phase = phase
        self._timer = self.loop.call_later(seconds, self._late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_phase = -1

    def _late(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._phase == HEAD and not self._started:
            self.transport.close()  # an idle connection: nothing to answer
        elif self._phase == HEAD:
            self._refuse(RequestTimeout("the request headers did not arrive in time"))
        elif self._phase == BODY:
            self._cut(RequestTimeout("the request body did not arrive in time"))

    def _cut(self, error: LicensorError) -> None:
        """Stop a request whose app may already run: answer unless it has, then close."""
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()
            return
        if cycle is not None:
            cycle.disconnected = True  # the app's next receive() is http.disconnect
            cycle.message_event.set()
        self._refuse(error)

    def _refuse(self, error: LicensorError) -> None:
        self._disarm()
        cycle = self.cycle
        if self._phase == HEAD and cycle is not None and not cycle.response_complete:
            # a pipelined request while the previous answer is still due: an answer now
            # would come out of order, so stop reading and close once that answer is out
            cycle.keep_alive = False
            self.flow.pause_reading()
            return
        self.transport.write(raw_response(error, self.server_state.default_headers))
        self.transport.close()
