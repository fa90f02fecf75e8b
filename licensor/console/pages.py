"""The console's home page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
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


# The header's search box (`/console/search`) is the desk's: console/desk_pages.py.
