"""The public JWKS, and the management routes of a business's signing keys (API key:
its business and mode)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, status

from licensor.auth.dependencies import Auth
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import NotFound, error_responses
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.models import Business
from licensor.signing import service
from licensor.signing.schemas import SigningKeyChange, SigningKeyList, SigningKeyOut

router = APIRouter(tags=["Signing keys"])

Kid = Annotated[str, Path(max_length=64, description="The key id (`sig_…`)")]


@router.get(
    "/.well-known/jwks/{business_id}/{mode}.json",
    responses=error_responses(404, 429),
    summary="A business's public signing keys for one mode (JWKS); the first is the active one",
)
async def public_keys(
    business_id: str,
    mode: Literal["test", "live"],
    request: Request,
    session: ReadSession,
) -> dict[str, list[dict[str, str]]]:
    """Read-only: keys are made when the business is bootstrapped, on rotation, or by the
    first signature; a business that has none yet answers an empty key set. Retired keys
    stay (what they signed still verifies), revoked ones are left out. Each face serves
    its own mode's keys: the other mode's path is unknown here."""
    async with limited(request, "jwks", business_id):
        if (
            len(business_id) > 64
            or mode != face_mode(request.scope)
            or await session.get(Business, business_id) is None
        ):
            raise NotFound(f"business {business_id} not found", code="BUSINESS_NOT_FOUND")
        return service.jwks(await service.list_keys(session, business_id, mode))


@router.get(
    "/signing_keys",
    response_model=SigningKeyList,
    responses=error_responses(401),
    summary="The signing keys of the API key's business and mode, revoked ones included",
)
async def list_signing_keys(who: Auth, session: ReadSession) -> SigningKeyList:
    keys = await service.list_keys(session, who.business_id, who.mode)
    return SigningKeyList(items=[service.to_out(k) for k in keys])


@router.post(
    "/signing_keys/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=SigningKeyOut,
    responses=error_responses(401, 409),
    summary="Make a new active signing key; the previous one is retired (still verifies)",
)
async def rotate_signing_key(who: Auth, ctx: Ctx, session: WriteSession) -> SigningKeyOut:
    return service.to_out(await service.rotate(session, ctx.vault, who.business_id, who.mode))


@router.post(
    "/signing_keys/{kid}/retire",
    response_model=SigningKeyChange,
    responses=error_responses(401, 404, 409),
    summary="Retire the active key: a new active key signs from now on (a rotation)",
)
async def retire_signing_key(
    kid: Kid, who: Auth, ctx: Ctx, session: WriteSession
) -> SigningKeyChange:
    key, replacement = await service.retire(session, ctx.vault, who.business_id, who.mode, kid)
    return service.to_change(key, replacement)


@router.post(
    "/signing_keys/{kid}/revoke",
    response_model=SigningKeyChange,
    responses=error_responses(401, 404, 409),
    summary="Revoke a key: it leaves the JWKS and enters the revocation list "
    "(the active key is replaced in the same transaction)",
)
async def revoke_signing_key(
    kid: Kid, who: Auth, ctx: Ctx, session: WriteSession
) -> SigningKeyChange:
    key, replacement = await service.revoke(session, ctx.vault, who.business_id, who.mode, kid)
    return service.to_change(key, replacement)
