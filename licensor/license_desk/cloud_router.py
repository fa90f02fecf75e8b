"""Cloud activation for self-managed instances. No API key: the activation code (then
the license key) is the credential; unknown and revoked codes are told apart, and so are
a full subscription (409) and a revoked instance (403)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from licensor.kit.deps import Ctx, reading, request_origin, writing
from licensor.kit.errors import error_responses
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.license_desk import cloud_service as service
from licensor.license_desk.cloud_schemas import ActivateIn, CloudLicenseOut, SeatLinkIn, SeatLinkOut
from licensor.models import SeatLink

router = APIRouter(prefix="/cloud", tags=["Cloud activation"])


def _out(held: service.Held) -> dict[str, object]:
    row = held.license
    return {
        "license_id": row.id,
        "license_key": held.license_key,
        "license_file": held.license_file,
        "instance_id": held.instance.instance_id,
        "users_count": row.users_count,
        "plan_code": row.plan_code,
        "starts_at": row.starts_at,
        "expires_at": row.expires_at,
    }


@router.post(
    "/activate",
    response_model=CloudLicenseOut,
    responses=error_responses(403, 404, 409, 422, 429),
    summary="Activate an instance with its subscription's activation code",
)
async def activate(body: ActivateIn, request: Request, ctx: Ctx) -> CloudLicenseOut:
    mode = face_mode(request.scope)
    async with limited(request, "cloud", body.activation_code):
        # Authenticate with a read first: a garbage or revoked code never takes the write lock.
        async with reading(ctx.db) as session:
            await service.check_activation(
                session, ctx.vault, body.activation_code, body.instance_id, mode
            )
        request.state.actor = "system:cloud_activation"  # the audit log's actor
        async with writing(ctx.db, request_origin(request)) as session:
            held = await service.activate(
                session, ctx.vault, body.activation_code, body.instance_id, mode
            )
            return CloudLicenseOut.model_validate(_out(held))


@router.post(
    "/seat_links",
    response_model=SeatLinkOut,
    responses=error_responses(403, 404, 409, 422, 429),
    summary="Report usage; the answer is the current license (new when the terms changed)",
)
async def seat_link(body: SeatLinkIn, request: Request, ctx: Ctx) -> SeatLinkOut:
    mode = face_mode(request.scope)
    skew = timedelta(seconds=ctx.settings.cloud_seat_link_clock_skew_seconds)
    async with limited(request, "cloud", body.license_key or body.activation_code or ""):
        async with reading(ctx.db) as session:
            await service.check_seat_link(session, ctx.vault, body, mode, skew)
        request.state.actor = "system:seat_link"
        async with writing(ctx.db, request_origin(request)) as session:
            held, link = await service.seat_link(session, ctx.vault, body, mode, skew)
            return _seat_link_out(held, link)


def _seat_link_out(held: service.Held, link: SeatLink) -> SeatLinkOut:
    return SeatLinkOut.model_validate(
        {
            **_out(held),
            "new_license": held.new_license,
            "billable_users_count": link.billable_users_count,
            "max_historical_users_count": link.max_historical_users_count,
            "licensed_users_count": link.licensed_users_count,
            "overage": link.overage,
        }
    )
