"""Request-scoped dependencies. The request owns the transaction: services only flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.context import AppContext


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]


async def _write_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.db.write_sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def _read_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.db.read_sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


# scope="function": the dependency closes (commit or rollback) before the response is sent,
# so a failed commit becomes an error response instead of a lie.
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
