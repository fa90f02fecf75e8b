"""Idempotent POSTs: the one ASGI layer behind the `Idempotency-Key` header.

A POST that carries the header is read whole, fingerprinted (method, path, query and
body: JSON bodies in a canonical form, so key order and spacing do not count) and handed
to the store (the `idempotency` domain, wired in by the app), which says what to do:
nothing (no API key it knows: the app answers as usual), replay a stored answer, refuse
(the store raises a `LicensorError`: key reused, in use, invalid), or go ahead under a
claim. Under a claim the app's answer is buffered, stored, and only then sent — every
answer the app produced, a 5xx included (Stripe's rule: the retry sees the same answer);
an exception that produced no answer releases the claim instead, so a retry runs again.
Every other request passes with one header scan.
See docs/events.md, "Idempotency".
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Protocol

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licensor.kit.errors import LicensorError
from licensor.kit.handlers import error_response
from licensor.kit.tenancy import route_path

log = logging.getLogger("licensor")

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
# Set afresh on every response, so not kept for a replay.
NOT_KEPT = frozenset(
    {b"content-length", b"date", b"server", b"connection", b"keep-alive", b"transfer-encoding"}
)


@dataclass(frozen=True)
class Answer:
    """A response as stored for a replay: status, the headers that matter, body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """The right to run a keyed request: its row, and the token of this claim's lease."""

    row_id: str
    token: str


class IdempotencyStore(Protocol):
    async def claim(self, scope: Scope, key: str, fingerprint: bytes) -> Claim | Answer | None:
        """None: not the store's request (no API key it knows). Raises `LicensorError`
        to refuse it."""

    async def complete(self, claim: Claim, answer: Answer) -> None: ...

    async def release(self, claim: Claim) -> None: ...


def fingerprint(scope: Scope, body: bytes) -> bytes:
    """SHA-256 of the request: method, path (with its face), query string and body."""
    digest = hashlib.sha256()
    digest.update(scope["method"].encode() + b"\x00")
    digest.update(scope["path"].encode() + b"\x00" + scope.get("query_string", b"") + b"\x00")
    try:
        digest.update(b"j" + orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS))
    except orjson.JSONDecodeError:
        digest.update(b"r" + body)
    return digest.digest()


def _header(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            value_: bytes = value
            return value_
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body (the edge already bounds its size); None on a disconnect."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_answer(send: Send, answer: Answer, *, replayed: bool) -> None:
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
    if replayed:
        headers.append(REPLAYED)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


class IdempotencyLayer:
    """Honour `Idempotency-Key` on every POST the store takes (the management API's),
    except on `exempt` paths (below the face: the public checks, whichever path serves
    them)."""

    def __init__(
        self, app: ASGIApp, store: IdempotencyStore, exempt: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.store = store
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = _header(scope)
        if raw_key is None or route_path(scope) in self.exempt:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        replay = _Replay(body, receive)
        try:
            outcome = await self.store.claim(
                scope, raw_key.decode("latin-1"), fingerprint(scope, body)
            )
        except LicensorError as exc:
            await error_response(exc)(scope, replay, send)
            return
        if outcome is None:
            await self.app(scope, replay, send)
        elif isinstance(outcome, Answer):
            await send_answer(send, outcome, replayed=True)
        else:
            await self._run(outcome, scope, replay, send)

    async def _run(self, claim: Claim, scope: Scope, receive: Receive, send: Send) -> None:
        capture = _Capture()
        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await self._release(claim)
            raise
        if not capture.started:  # the app answered nothing: nothing to replay
            await self._release(claim)
            return
        answer = capture.answer()
        try:
            await self.store.complete(claim, answer)
        except Exception:  # answer it anyway; the claim's lease runs out
            log.exception("could not store the answer of idempotent request %s", claim.row_id)
        await send_answer(send, answer, replayed=False)

    async def _release(self, claim: Claim) -> None:
        try:
            await self.store.release(claim)
        except Exception:  # the claim's lease runs out instead
            log.exception("could not release idempotent request %s", claim.row_id)


class _Replay:
    """`receive` for the app: the body already read, then the client's own messages."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body: bytes | None = body
        self.receive = receive

    async def __call__(self) -> Message:
        if self.body is None:
            return await self.receive()
        body, self.body = self.body, None
        return {"type": "http.request", "body": body, "more_body": False}


class _Capture:
    """`send` for the app: keeps the response instead of sending it."""

    def __init__(self) -> None:
        self.started = False
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            self.headers = [
                (bytes(k).lower(), bytes(v))
                for k, v in message.get("headers", [])
                if bytes(k).lower() not in NOT_KEPT
            ]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    def answer(self) -> Answer:
        return Answer(self.status, self.headers, b"".join(self.chunks))
