"""API-key authentication for the management API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from licensor.kit.deps import Ctx
from licensor.kit.errors import Unauthorized
from licensor.kit.secrets import constant_time_equal
from licensor.kit.tenancy import API_KEY_PURPOSE, Mode, Principal, face_mode, face_url, mode_of
from licensor.models import ApiKey

__all__ = ["API_KEY_PURPOSE", "Auth", "Mode", "Principal", "authenticate", "mode_of"]

_bearer = HTTPBearer(auto_error=False, description="An API key: `lk_test_…` or `lk_live_…`")


async def authenticate(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing API key: send `Authorization: Bearer <api key>`")
    secret = credentials.credentials.strip()
    if mode_of(secret) is None or len(secret) > 200:
        raise Unauthorized("invalid API key")
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
        raise Unauthorized("invalid API key")
    face = face_mode(request.scope)
    if row.mode != face:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        raise Unauthorized(
            f"this is a {row.mode}-mode API key and this is the {face}-mode API: "
            f"use the base URL {face_url(request.scope, origin, row.mode)}",
            code="API_KEY_WRONG_MODE",
        )
    principal = Principal(business_id=row.business_id, mode=row.mode, api_key_id=row.id)
    request.state.principal = principal
    return principal


Auth = Annotated[Principal, Depends(authenticate)]
