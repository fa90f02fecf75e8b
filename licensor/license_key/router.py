from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from licensor.auth.dependencies import Auth
from licensor.kit.deps import Ctx, ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.kit.schemas import UTC
from licensor.license_key import service
from licensor.license_key.schemas import LicenseKeyCreate, LicenseKeyOut, LicenseKeyUpdate, Source
from licensor.product.service import brand_of

router = APIRouter(prefix="/license_keys", tags=["License Keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LicenseKeyOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Create or import a license key (sends no email)",
)
async def create_license_key(
    body: LicenseKeyCreate, who: Auth, ctx: Ctx, session: WriteSession
) -> LicenseKeyOut:
    row = await service.create(session, ctx.vault, who, body)
    return service.to_out(row, ctx.vault, await brand_of(session, who.business_id))


@router.get("", response_model=ListResponse[LicenseKeyOut], responses=error_responses(401, 422))
async def list_license_keys(
    who: Auth,
    ctx: Ctx,
    session: ListSession,
    page: Page,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    product_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Literal["active", "expired", "disabled"] | None = None,
    source: Source | None = None,
    created_at_gte: UTC | None = None,
    created_at_lte: UTC | None = None,
    email: Annotated[
        str | None, Query(max_length=320, description="The customer's whole email or domain.")
    ] = None,
    company: Annotated[
        str | None, Query(max_length=300, description="The customer's company (or name).")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=320,
            description="One box: exact license key, key/customer/subscription id, customer "
            "email (whole or domain), company or name.",
        ),
    ] = None,
) -> ListResponse[LicenseKeyOut]:
    items = await service.list_page(
        session,
        ctx.vault,
        who,
        page,
        customer_id=customer_id,
        product_id=product_id,
        status=status,
        source=source,
        created_at_gte=created_at_gte,
        created_at_lte=created_at_lte,
        search=service.search_of(ctx.vault, who, email=email, company=company, q=q),
    )
    return ListResponse(items=items)


@router.get("/{id}", response_model=LicenseKeyOut, responses=error_responses(401, 404))
async def get_license_key(id: str, who: Auth, ctx: Ctx, session: ReadSession) -> LicenseKeyOut:
    row = await service.get(session, who, id)
    return service.to_out(row, ctx.vault, await brand_of(session, who.business_id))


@router.patch("/{id}", response_model=LicenseKeyOut, responses=error_responses(401, 404, 422))
async def update_license_key(
    id: str, body: LicenseKeyUpdate, who: Auth, ctx: Ctx, session: WriteSession
) -> LicenseKeyOut:
    row = await service.update(session, who, id, body)
    return service.to_out(row, ctx.vault, await brand_of(session, who.business_id))
