from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.auth.dependencies import Auth
from licensor.kit.deps import ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.models import Product
from licensor.product import service
from licensor.product.schemas import ProductCreate, ProductOut, ProductUpdate

router = APIRouter(prefix="/products", tags=["Products"])


async def _out(session: AsyncSession, rows: list[Product]) -> list[ProductOut]:
    brand = await service.brand_of(session, rows[0].business_id) if rows else ""
    return [ProductOut.from_row(row, brand) for row in rows]


@router.post(
    "",
    status_code=status.HTTP_200_OK,
    response_model=ProductOut,
    responses=error_responses(401, 422),
)
async def create_product(body: ProductCreate, who: Auth, session: WriteSession) -> ProductOut:
    return (await _out(session, [await service.create(session, who, body)]))[0]


@router.get("", response_model=ListResponse[ProductOut], responses=error_responses(401, 422))
async def list_products(who: Auth, session: ListSession, page: Page) -> ListResponse[ProductOut]:
    return ListResponse(items=await _out(session, await service.list_page(session, who, page)))


@router.get("/{product_id}", response_model=ProductOut, responses=error_responses(401, 404))
async def get_product(product_id: str, who: Auth, session: ReadSession) -> ProductOut:
    return (await _out(session, [await service.get(session, who, product_id)]))[0]


@router.patch("/{product_id}", response_model=ProductOut, responses=error_responses(401, 404, 422))
async def update_product(
    product_id: str, body: ProductUpdate, who: Auth, session: WriteSession
) -> ProductOut:
    return (await _out(session, [await service.update(session, who, product_id, body)]))[0]
