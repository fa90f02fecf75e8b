from __future__ import annotations

from fastapi import APIRouter, status

from licensor.auth.dependencies import Auth
from licensor.kit.deps import ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.plan import service
from licensor.plan.schemas import PlanCreate, PlanOut, PlanUpdate

router = APIRouter(prefix="/plans", tags=["Plans"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanOut,
    responses=error_responses(401, 409, 422),
)
async def create_plan(body: PlanCreate, who: Auth, session: WriteSession) -> PlanOut:
    return PlanOut.model_validate(await service.create(session, who, body))


@router.get("", response_model=ListResponse[PlanOut], responses=error_responses(401, 422))
async def list_plans(who: Auth, session: ListSession, page: Page) -> ListResponse[PlanOut]:
    rows = await service.list_page(session, who, page)
    return ListResponse(items=[PlanOut.model_validate(r) for r in rows])


@router.get("/{plan_id}", response_model=PlanOut, responses=error_responses(401, 404))
async def get_plan(plan_id: str, who: Auth, session: ReadSession) -> PlanOut:
    return PlanOut.model_validate(await service.get(session, who, plan_id))


@router.patch("/{plan_id}", response_model=PlanOut, responses=error_responses(401, 404, 422))
async def update_plan(plan_id: str, body: PlanUpdate, who: Auth, session: WriteSession) -> PlanOut:
    return PlanOut.model_validate(await service.update(session, who, plan_id, body))


@router.delete(
    "/{plan_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 404, 409)
)
async def delete_plan(plan_id: str, who: Auth, session: WriteSession) -> None:
    await service.delete(session, who, plan_id)
