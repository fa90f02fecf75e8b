from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from licensor.kit.deps import ReadSession
from licensor.kit.errors import NotFound, error_responses
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.models import Business
from licensor.signing import service

router = APIRouter(tags=["Signing keys"])


@router.get(
    "/.well-known/jwks/{business_id}/{mode}.json",
    responses=error_responses(404, 429),
    summary="A business's public signing keys for one mode (JWKS); the first is current",
)
async def public_keys(
    business_id: str,
    mode: Literal["test", "live"],
    request: Request,
    session: ReadSession,
) -> dict[str, list[dict[str, str]]]:
    """Read-only: keys are made when the business is bootstrapped, on rotation, or by the
    first signature; a business that has none yet answers an empty key set. Each face
    serves its own mode's keys: the other mode's path is unknown here."""
    async with limited(request, "jwks", business_id):
        if (
            len(business_id) > 64
            or mode != face_mode(request.scope)
            or await session.get(Business, business_id) is None
        ):
            raise NotFound(f"business {business_id} not found", code="BUSINESS_NOT_FOUND")
        return service.jwks(await service.list_keys(session, business_id, mode))
