"""Who and where a change comes from: the actor, the request id and the client address.

The owner of a transaction (a request, a CLI command, a job) binds an `Origin` to its
session; the audit log (`licensor/audit`) reads it when it records an event, so the
services need no extra argument to say who is calling. Actors are strings:
`api_key:key_…`, `staff:<id>`, `member:mem_…`, `cli:<OS user>` or `system:<what>`.

Every management-API answer carries `X-Request-Id` (`RequestIds`): the caller's own when
it sent a sane one, else a new `req_…`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licensor.kit.ids import new_id
from licensor.kit.ratelimit import Network, client_ip

ORIGIN_KEY = "licensor.origin"
REQUEST_ID_KEY = "licensor.request_id"
REQUEST_ID_HEADER = b"x-request-id"
UNKNOWN_ACTOR = "system:unknown"
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


class Origin:
    """A fixed origin: a CLI command, a job, or a thin handler's request."""

    __slots__ = ("actor", "client_address", "request_id")

    def __init__(
        self, actor: str, request_id: str | None = None, client_address: str | None = None
    ) -> None:
        self.actor = actor
        self.request_id = request_id
        self.client_address = client_address


class RequestOrigin(Origin):
    """An HTTP request's origin; the actor is read when an event is recorded, since
    authentication (which sets `request.state.principal`) may run after the session opens.
    A face that signs in someone else (the console's staff, an organisation's member)
    sets `request.state.actor`, which wins."""

    __slots__ = ("_state",)

    def __init__(self, state: Any, request_id: str | None, client_address: str | None) -> None:
        super().__init__(UNKNOWN_ACTOR, request_id, client_address)
        self._state = state

    def current_actor(self) -> str:
        actor = getattr(self._state, "actor", None)
        if isinstance(actor, str) and actor:
            return actor
        principal = getattr(self._state, "principal", None)
        if principal is not None:
            return f"api_key:{principal.api_key_id}"
        return "anonymous"


def actor_of(origin: Origin) -> str:
    return origin.current_actor() if isinstance(origin, RequestOrigin) else origin.actor


def bind(session: AsyncSession, origin: Origin) -> None:
    """Record where the changes of this session's transactions come from."""
    session.info[ORIGIN_KEY] = origin


def origin_of(session: AsyncSession) -> Origin | None:
    origin: Origin | None = session.info.get(ORIGIN_KEY)
    return origin


def request_id(scope: Scope) -> str:
    """This request's id: kept in the scope, from a sane `X-Request-Id` or a new one."""
    known: str | None = scope.get(REQUEST_ID_KEY)
    if known is not None:
        return known
    value = new_id("req")
    for name, raw in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = raw.decode("latin-1")
            if _SANE_ID.fullmatch(text):
                value = text
            break
    scope[REQUEST_ID_KEY] = value
    return value


def scope_origin(scope: Scope, proxies: tuple[Network, ...], actor: str = "") -> Origin:
    """A thin handler's origin: this request's id and client address (`client_ip`)."""
    return Origin(actor, request_id(scope), client_ip(scope, proxies) or None)


def request_id_header(scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
    """`X-Request-Id` for a thin handler's answer, once `request_id` gave one."""
    known: str | None = scope.get(REQUEST_ID_KEY)
    return () if known is None else ((REQUEST_ID_HEADER, known.encode("latin-1")),)


class RequestIds:
    """Give every HTTP request an id and echo it as `X-Request-Id` on the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = (REQUEST_ID_HEADER, request_id(scope).encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
