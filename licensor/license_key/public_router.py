"""The public routes, as FastAPI documents them. With the fast path on (the default) the
thin ASGI handler in `fast.py` answers them first, through the same `LicenseChecks`."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response, status

from licensor.kit.errors import error_responses
from licensor.kit.origin import Origin, scope_origin
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.license_key.machines import UNKNOWN
from licensor.license_key.public_schemas import (
    ActivateIn,
    ActivateOut,
    DeactivateIn,
    HeartbeatIn,
    HeartbeatOut,
    ValidateIn,
    ValidateOut,
)
from licensor.license_key.public_service import LicenseChecks

router = APIRouter(prefix="/licenses", tags=["Licenses"])


def _origin(request: Request) -> Origin:
    return scope_origin(request.scope, request.app.state.rate_limiter.proxies)


def _checks(request: Request) -> LicenseChecks:
    checks: LicenseChecks = request.app.state.license_checks
    return checks


@router.post(
    "/activate",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivateOut,
    responses=error_responses(404, 422, 429),
    summary="Activate a license key: create an instance (no API key needed)",
)
async def activate_license(body: ActivateIn, request: Request) -> ActivateOut:
    async with limited(request, "license", body.license_key):
        return await _checks(request).activate(body, face_mode(request.scope), _origin(request))


@router.post(
    "/validate",
    response_model=ValidateOut,
    response_model_exclude_unset=True,  # `signed` only when asked: `{"valid": …}` as before
    responses=error_responses(422, 429),
    summary="Is this key (and instance) valid now? Always 200 for a well-formed request",
)
async def validate_license(body: ValidateIn, request: Request) -> Response:
    """With a `nonce`, the answer also carries `signed` (docs/license-file-format.md,
    "Signed answers"); its bytes are the thin path's."""
    async with limited(request, "license", body.license_key) as outcome:
        mode = face_mode(request.scope)
        if body.nonce is not None:
            answer = await _checks(request).signed_validate(body, mode, body.nonce)
            outcome.failed = not answer["valid"]
            return Response(orjson.dumps(answer), media_type="application/json")
        verdict = await _checks(request).validate(body, mode)
        outcome.failed = verdict is None or not verdict.valid
    # the thin path's very bytes: `state` and `code` only when there is one
    content = UNKNOWN if verdict is None else verdict.body
    return Response(content=content, media_type="application/json")


@router.post(
    "/heartbeat",
    response_model=HeartbeatOut,
    responses=error_responses(404, 422, 429),
    summary="Licensor's own: a machine is alive and keeps its (floating) seat",
)
async def heartbeat_license(body: HeartbeatIn, request: Request) -> HeartbeatOut:
    async with limited(request, "license", body.license_key):
        return await _checks(request).heartbeat(body, face_mode(request.scope))


@router.post(
    "/deactivate",
    status_code=status.HTTP_200_OK,
    response_class=Response,
    responses={200: {"description": "Instance removed"}, **error_responses(404, 422, 429)},
    summary="Deactivate an instance, freeing its seat",
)
async def deactivate_license(body: DeactivateIn, request: Request) -> Response:
    async with limited(request, "license", body.license_key):
        await _checks(request).deactivate(body, face_mode(request.scope), _origin(request))
    return Response(status_code=200)
