"""The public revocation list of a business, on each face for its own mode."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request

from licensor.kit.clock import utcnow
from licensor.kit.deps import Ctx, ReadSession
from licensor.kit.errors import NotFound, error_responses
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.license_desk.revocations import revocation_list
from licensor.models import Business

router = APIRouter(tags=["Signing keys"])


@router.get(
    "/.well-known/licensor/{business_id}/revocations.json",
    responses=error_responses(404, 429),
    summary="A business's signed, dated revocation list for the face's mode",
)
async def revocations(
    business_id: str, request: Request, ctx: Ctx, session: ReadSession
) -> dict[str, Any]:
    """`{"revocations": {version, business_id, mode, issued_at, next_update, revoked_kids,
    revoked_license_ids}, "kid", "alg": "EdDSA", "signature"}`: the revoked signing keys
    and the disabled license keys of the mode (docs/license-file-format.md). Public, read
    only, and limited like the JWKS."""
    async with limited(request, "jwks", business_id):
        if len(business_id) > 64 or await session.get(Business, business_id) is None:
            raise NotFound(f"business {business_id} not found", code="BUSINESS_NOT_FOUND")
        lifetime = timedelta(seconds=ctx.settings.revocation_list_seconds)
        mode = face_mode(request.scope)
        return await revocation_list(session, ctx.vault, business_id, mode, utcnow(), lifetime)
