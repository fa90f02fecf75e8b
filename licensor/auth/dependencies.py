"""API-key authentication for the management API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from starlette.types import Scope

from licensor.kit.context import AppContext
from licensor.kit.deps import Ctx
from licensor.kit.errors import Unauthorized
from licensor.kit.secrets import constant_time_equal
from licensor.kit.tenancy import API_KEY_PURPOSE, Mode, Principal, face_mode, face_url, mode_of
from licensor.models import ApiKey

__all__ = [
    "API_KEY_PURPOSE",
    "Auth",
    "Mode",
    "Principal",
    "authenticate",
    "identify",
    "mode_of",
]

_bearer = HTTPBearer(auto_error=False, description="An API key: `lk_test_…` or `lk_live_…`")


async def _lookup(ctx: AppContext, secret: str) -> Principal | None:
    """The principal of an API key that exists and is not revoked (in its own mode)."""
    if mode_of(secret) is None or len(secret) > 200:
        return None
    digest = ctx.vault.lookup_hash(secret, API_KEY_PURPOSE)
    async with ctx.db.read_sessions() as session:
        row = (
            await session.execute(
                select(ApiKey.id, ApiKey.business_id, ApiKey.mode, ApiKey.secret_hash).where(
                    ApiKey.secret_hash == digest, ApiKey.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None or not constant_time_equal(row.secret_hash, digest):
        return None
    return Principal(business_id=row.business_id, mode=row.mode, api_key_id=row.id)


async def authenticate(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing API key: send `Authorization: Bearer <api key>`")
    principal = await _lookup(ctx, credentials.credentials.strip())
    if principal is None:
        raise Unauthorized("invalid API key")
    face = face_mode(request.scope)
    if principal.mode != face:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        raise Unauthorized(
            f"this is a {principal.mode}-mode API key and this is the {face}-mode API: "
            f"use the base URL {face_url(request.scope, origin, principal.mode)}",
            code="API_KEY_WRONG_MODE",
        )
    request.state.principal = principal
    return principal


async def identify(ctx: AppContext, scope: Scope) -> Principal | None:
    """The principal `authenticate` would find for this request, or None where it would
    refuse it (no API key, an unknown or revoked one, one of the other mode)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            principal = await _lookup(ctx, secret.strip())
            if principal is None or principal.mode != face_mode(scope):
                return None
            return principal
    return None


Auth = Annotated[Principal, Depends(authenticate)]
