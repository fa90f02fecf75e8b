from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from licensor.auth.dependencies import Auth
from licensor.customer import service
from licensor.customer.schemas import CustomerCreate, CustomerOut, CustomerUpdate
from licensor.kit.deps import ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.kit.schemas import UTC

router = APIRouter(prefix="/customers", tags=["Customers"])


@router.post(
    "",
    status_code=status.HTTP_200_OK,
    response_model=CustomerOut,
    responses=error_responses(401, 422),
)
async def create_customer(body: CustomerCreate, who: Auth, session: WriteSession) -> CustomerOut:
    return CustomerOut.model_validate(await service.create(session, who, body))


@router.get("", response_model=ListResponse[CustomerOut], responses=error_responses(401, 422))
async def list_customers(
    who: Auth,
    session: ListSession,
    page: Page,
    email: Annotated[str | None, Query(max_length=320)] = None,
    name: Annotated[str | None, Query(max_length=300)] = None,
    created_at_gte: UTC | None = None,
    created_at_lte: UTC | None = None,
) -> ListResponse[CustomerOut]:
    rows = await service.list_page(
        session,
        who,
        page,
        email=email,
        name=name,
        created_at_gte=created_at_gte,
        created_at_lte=created_at_lte,
    )
    return ListResponse(items=[CustomerOut.model_validate(r) for r in rows])


@router.get("/{customer_id}", response_model=CustomerOut, responses=error_responses(401, 404, 422))
async def get_customer(customer_id: str, who: Auth, session: ReadSession) -> CustomerOut:
    return CustomerOut.model_validate(await service.get(session, who, customer_id))


@router.patch(
    "/{customer_id}", response_model=CustomerOut, responses=error_responses(401, 404, 422)
)
async def update_customer(
    customer_id: str, body: CustomerUpdate, who: Auth, session: WriteSession
) -> CustomerOut:
    return CustomerOut.model_validate(await service.update(session, who, customer_id, body))
