"""The console's home and its search page (the header's one search box lands here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from licensor.business import service as business_service
from licensor.console.session import Staff, guard_post
from licensor.console.web import render
from licensor.kit.deps import ReadSession

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])


@router.get("/")
async def home(request: Request, staff: Staff, session: ReadSession) -> Response:
    business = await business_service.find_business(session, staff.business_id)
    return render(request, "home.html", staff, business=business)


@router.get("/search")
async def search(
    request: Request, staff: Staff, q: Annotated[str, Query(max_length=320)] = ""
) -> Response:
    return render(request, "search.html", staff, q=q.strip(), results=[])
