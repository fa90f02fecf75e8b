"""Query helpers shared by the domain repositories: every row is scoped to business + mode."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


class Scoped(Protocol):
    id: Any
    business_id: Any
    mode: Any
    created_at: Any


M = TypeVar("M", bound=Scoped)
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


async def get_scoped(
    session: AsyncSession, model: type[M], row_id: str, business_id: str, mode: str
) -> M | None:
    """A row by id, or None when it is missing or belongs to another business or mode."""
    if len(row_id) > 64:
        return None
    row = await session.get(model, row_id)
    if row is None or row.business_id != business_id or row.mode != mode:
        return None
    return row


def created_between(
    stmt: S,
    column: InstrumentedAttribute[datetime],
    gte: datetime | None,
    lte: datetime | None,
) -> S:
    if gte is not None:
        stmt = stmt.where(column >= gte)
    if lte is not None:
        stmt = stmt.where(column <= lte)
    return stmt
