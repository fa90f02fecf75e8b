from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from licensor.auth.dependencies import Auth
from licensor.kit.deps import ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.license_key import instance_service as service
from licensor.license_key import seats
from licensor.license_key.instance_schemas import InstanceOut, InstanceUpdate

router = APIRouter(prefix="/license_key_instances", tags=["License Key Instances"])


@router.get("", response_model=ListResponse[InstanceOut], responses=error_responses(401, 422))
async def list_instances(
    who: Auth,
    session: ListSession,
    page: Page,
    license_key_id: Annotated[str | None, Query(max_length=64)] = None,
) -> ListResponse[InstanceOut]:
    rows = await service.list_page(session, who, page, license_key_id)
    return ListResponse(items=[InstanceOut.model_validate(r) for r in rows])


@router.get("/{id}", response_model=InstanceOut, responses=error_responses(401, 404))
async def get_instance(id: str, who: Auth, session: ReadSession) -> InstanceOut:
    return InstanceOut.model_validate(await service.get(session, who, id))


@router.patch("/{id}", response_model=InstanceOut, responses=error_responses(401, 404, 422))
async def update_instance(
    id: str, body: InstanceUpdate, who: Auth, session: WriteSession
) -> InstanceOut:
    return InstanceOut.model_validate(await service.rename(session, who, id, body.name))


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
    summary="Release a seat: the instance is removed and its seat on the license key freed",
)
async def release_instance(
    id: str,
    who: Auth,
    session: WriteSession,
    reason: Annotated[
        str | None,
        Query(max_length=seats.REASON_MAX, description="Why: the audit log's note, the event's."),
    ] = None,
) -> None:
    await seats.release(session, who, id, reason.strip() or None if reason else None)
