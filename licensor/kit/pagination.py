from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.repository import S

T = TypeVar("T")
R = TypeVar("R")


class ListResponse(BaseModel, Generic[T]):
    items: list[T]


class PageParams(BaseModel):
    page_number: int
    page_size: int

    def apply(self, stmt: S) -> S:
        return stmt.limit(self.page_size).offset(self.page_number * self.page_size)


def _page_params(
    page_number: Annotated[int, Query(ge=0, le=1_000_000, description="From 0")] = 0,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> PageParams:
    return PageParams(page_number=page_number, page_size=page_size)


Page = Annotated[PageParams, Depends(_page_params)]


async def fetch_page(session: AsyncSession, stmt: Select[R], page: PageParams) -> list[R]:
    """One page of a list query's rows (services call it; routers only pass the page)."""
    return list((await session.scalars(page.apply(stmt))).all())
