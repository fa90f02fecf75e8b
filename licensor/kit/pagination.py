from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.errors import Unprocessable
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


_KNOWN: dict[int, frozenset[str]] = {}


def _query_aliases(dependant: Dependant) -> list[str]:
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_aliases(sub)
    return names


def known_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares (its own and its dependencies'), by alias."""
    known = _KNOWN.get(id(route))
    if known is None:
        known = frozenset(_query_aliases(route.dependant))
        _KNOWN[id(route)] = known
    return known


def refuse_unknown_query_parameters(request: Request) -> None:
    """An unknown query parameter is a 422 naming it, never silently ignored (every list
    takes `Page`, so this is the one place lists check it)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - known_query_parameters(route))
    if unknown:
        names = ", ".join(unknown)
        raise Unprocessable(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {names}",
            code="UNKNOWN_QUERY_PARAMETER",
        )


def _page_params(
    request: Request,
    page_number: Annotated[int, Query(ge=0, le=1_000_000, description="From 0")] = 0,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> PageParams:
    refuse_unknown_query_parameters(request)
    return PageParams(page_number=page_number, page_size=page_size)


Page = Annotated[PageParams, Depends(_page_params)]


async def fetch_page(session: AsyncSession, stmt: Select[R], page: PageParams) -> list[R]:
    """One page of a list query's rows (services call it; routers only pass the page)."""
    return list((await session.scalars(page.apply(stmt))).all())
