"""Request-scoped dependencies. The request owns the transaction: services only flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.context import AppContext
from licensor.kit.db import Database
from licensor.kit.origin import Origin, RequestOrigin, bind, request_id
from licensor.kit.ratelimit import client_ip


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]


@asynccontextmanager
async def writing(db: Database, origin: Origin | None = None) -> AsyncIterator[AsyncSession]:
    """One write transaction, committed at the end (rolled back on an error).

    For routes that must first prove who is calling with `reading` (or work outside any
    transaction, such as a password hash) before they take SQLite's write lock. `origin`
    says who the changes come from (`request_origin(request)` in a route), for the audit log.
    """
    async with db.write_sessions() as session:
        if origin is not None:
            bind(session, origin)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncSession]:
    """One read-only transaction (a plain `BEGIN` on SQLite: no write lock)."""
    async with db.read_sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


@asynccontextmanager
async def listing(db: Database) -> AsyncIterator[AsyncSession]:
    """A read-only transaction for a list or a search: on the streaming replica when one is
    configured (it may lag the primary by a moment), else as `reading`."""
    async with db.list_sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


def request_origin(request: Request) -> RequestOrigin:
    """Where this request's changes come from (the audit log's actor, request id, address)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    proxies = limiter.proxies if limiter is not None else ()
    scope = request.scope
    return RequestOrigin(request.state, request_id(scope), client_ip(scope, proxies) or None)


async def _write_session(ctx: Ctx, request: Request) -> AsyncIterator[AsyncSession]:
    async with writing(ctx.db, request_origin(request)) as session:
        yield session


async def _read_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with reading(ctx.db) as session:
        yield session


async def _list_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with listing(ctx.db) as session:
        yield session


# scope="function": the dependency closes (commit or rollback) before the response is sent,
# so a failed commit becomes an error response instead of a lie.
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
# The API's lists and searches: the replica when there is one (docs/deployment.md).
ListSession = Annotated[AsyncSession, Depends(_list_session, scope="function")]
