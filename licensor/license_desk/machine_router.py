"""`POST /license_keys/offline_activations`: support uploads an air-gapped machine's
activation request and gets the license file bound to it (`machine_file.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from licensor.auth.dependencies import Auth
from licensor.kit.deps import request_origin
from licensor.kit.errors import error_responses
from licensor.kit.origin import Origin, actor_of
from licensor.license_desk import machine_file
from licensor.license_desk.machine_schemas import OfflineActivationIn, OfflineActivationOut

router = APIRouter(prefix="/license_keys", tags=["License Keys"])


def fixed_origin(request: Request) -> Origin:
    """The request's origin with its actor read now (the raw store records `actor`)."""
    found = request_origin(request)
    return Origin(actor_of(found), found.request_id, found.client_address)


@router.post(
    "/offline_activations",
    status_code=status.HTTP_201_CREATED,
    response_model=OfflineActivationOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Activate an air-gapped machine: its activation request in, its license file out",
)
async def activate_offline(
    body: OfflineActivationIn, who: Auth, request: Request
) -> OfflineActivationOut:
    """Licensor's own. Activates an instance on the request's license key exactly as
    `POST /licenses/activate` would (same limit, policy, fingerprint matching and errors),
    takes the request (once: `409 ACTIVATION_REQUEST_USED` the second time; `422
    ACTIVATION_REQUEST_EXPIRED` / `ACTIVATION_REQUEST_NOT_YET_VALID` /
    `ACTIVATION_REQUEST_INVALID`) and answers the signed `machine` license file."""
    state = request.app.state
    done = await machine_file.activate(
        state.license_checks,
        state.signer,
        who.business_id,
        who.mode,
        body.request,
        fixed_origin(request),
    )
    return OfflineActivationOut.of(done)
