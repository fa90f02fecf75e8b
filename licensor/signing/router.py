from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from licensor.kit.deps import ReadSession
from licensor.kit.errors import NotFound, error_responses
from licensor.models import Business
from licensor.signing import service

router = APIRouter(tags=["Signing keys"])


@router.get(
    "/.well-known/jwks/{business_id}/{mode}.json",
    responses=error_responses(404),
    summary="A business's public signing keys for one mode (JWKS); the first is current",
)
async def public_keys(
    business_id: str, mode: Literal["test", "live"], session: ReadSession
) -> dict[str, list[dict[str, str]]]:
    """Read-only: keys are made when the business is bootstrapped, on rotation, or by the
    first signature; a business that has none yet answers an empty key set."""
    if len(business_id) > 64 or await session.get(Business, business_id) is None:
        raise NotFound(f"business {business_id} not found", code="BUSINESS_NOT_FOUND")
    return service.jwks(await service.list_keys(session, business_id, mode))
