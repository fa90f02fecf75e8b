"""A subscription's cloud instances for the vendor (API key): list them, revoke one."""

from __future__ import annotations

from fastapi import APIRouter

from licensor.auth.dependencies import Auth
from licensor.kit.deps import ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.license_desk import cloud_instance_service as service
from licensor.license_desk.cloud_schemas import CloudInstanceOut

router = APIRouter(prefix="/subscriptions", tags=["Subscriptions"])


@router.get(
    "/{sub_id}/cloud_instances",
    response_model=ListResponse[CloudInstanceOut],
    responses=error_responses(401, 404, 422),
    summary="The subscription's cloud instances, the last activated first",
)
async def list_cloud_instances(
    sub_id: str, who: Auth, session: ReadSession, page: Page
) -> ListResponse[CloudInstanceOut]:
    return ListResponse(items=await service.list_page(session, who, sub_id, page))


@router.post(
    "/{sub_id}/cloud_instances/{instance_row_id}/revoke",
    response_model=CloudInstanceOut,
    responses=error_responses(401, 404),
    summary="Revoke a cloud instance (ins_…): its seat links and re-activations are refused "
    "for good, and its slot is freed",
)
async def revoke_cloud_instance(
    sub_id: str, instance_row_id: str, who: Auth, session: WriteSession
) -> CloudInstanceOut:
    return await service.revoke(session, who, sub_id, instance_row_id)
