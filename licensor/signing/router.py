from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from licensor.kit.deps import Ctx, WriteSession
from licensor.kit.errors import NotFound, error_responses
from licensor.kit.ratelimit import limited
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
    ctx: Ctx,
    session: WriteSession,
) -> dict[str, list[dict[str, str]]]:
    async with limited(request, "jwks", business_id):
        if len(business_id) > 64 or await session.get(Business, business_id) is None:
            raise NotFound(f"business {business_id} not found", code="BUSINESS_NOT_FOUND")
        await service.current_key(session, ctx.vault, business_id, mode)
        return service.jwks(await service.list_keys(session, business_id, mode))
