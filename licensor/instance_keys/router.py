"""Self-hosted instance keys: the organisation's owner creates them (shown once), owners
and admins list and revoke them, instances check in with them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import Response

from licensor.instance_keys import repository, service
from licensor.instance_keys.checkin import checkins_for
from licensor.instance_keys.schemas import CheckinIn, KeyCreate, KeyCreated, KeyList, KeyOut
from licensor.kit.deps import Ctx, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.ratelimit import limited
from licensor.kit.tenancy import face_mode
from licensor.models import InstanceKey
from licensor.orgs.auth import MemberAuth, confirm, require_role
from licensor.orgs.service import find_org

router = APIRouter(prefix="/api/v1/licensing", tags=["Instance keys"])


def key_out(row: InstanceKey) -> KeyOut:
    return KeyOut(
        id=row.id,
        masked_key=service.masked(row),
        instance_name=row.instance_name,
        active=row.revoked_at is None,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_seen_at=row.last_seen_at,
        last_version=row.last_version,
        last_instance_id=row.last_instance_id,
    )


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 422),
    summary="Owner: create a license key for a self-hosted instance (shown once)",
)
async def create_key(
    caller: MemberAuth, ctx: Ctx, session: WriteSession, body: KeyCreate | None = None
) -> KeyCreated:
    caller = await confirm(session, caller, "owner")
    org = await find_org(session, caller.business_id, caller.mode, caller.org_id)
    issued = await service.create(
        session, ctx.vault, org, body.instance_name if body else None, caller.member_id
    )
    return KeyCreated(
        id=issued.row.id,
        license_key=issued.secret,
        instance_name=issued.row.instance_name,
        active=True,
        created_at=issued.row.created_at,
    )


@router.get(
    "/keys",
    responses=error_responses(401, 403, 404),
    summary="Owner or admin: the organisation's keys, masked, newest first",
)
async def list_keys(caller: MemberAuth, session: ReadSession) -> KeyList:
    require_role(caller, "owner", "admin")
    return KeyList(items=[key_out(k) for k in await repository.keys_of(session, caller.org_id)])


@router.delete(
    "/keys/{key_id}",
    responses=error_responses(401, 403, 404),
    summary="Owner or admin: revoke a key; the next check-in with it is inactive",
)
async def revoke_key(key_id: str, caller: MemberAuth, session: WriteSession) -> KeyOut:
    caller = await confirm(session, caller, "owner", "admin")
    return key_out(await service.revoke(session, caller.org_id, key_id))


@router.post(
    "/validate",
    responses=error_responses(401, 413, 422),
    summary="Instance check-in (license key as bearer): a signed answer with the current plan",
)
async def validate(
    request: Request,
    authorization: Annotated[str | None, Header(description="`Bearer <license key>`")] = None,
    body: CheckinIn | None = None,
) -> Response:
    """Served by a thin ASGI layer in front of FastAPI; this route documents it."""
    async with limited(request, "checkin", authorization or ""):
        checkins = await checkins_for(request.app.state)
        mode = face_mode(request.scope)
        payload = await checkins.check_in(authorization, body or CheckinIn(), mode)
    return Response(payload, media_type="application/json")
