"""Small builders shared by the test modules: everything goes through the real HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.business import service as business_service
from licensor.kit.context import AppContext
from tests import net
from tests.servers import Server, Tenant

T = TypeVar("T")


def unique(prefix: str = "K") -> str:
    return f"{prefix}-{uuid.uuid4().hex.upper()}"


def make_product(tenant: Tenant, **fields: Any) -> str:
    body = {"name": fields.pop("name", "Product"), **fields}
    with tenant.http() as http:
        resp = http.post("/products", json=body)
    assert resp.status_code == 200, resp.text
    product_id = resp.json()["product_id"]
    assert isinstance(product_id, str)
    return product_id


def make_customer(tenant: Tenant, email: str = "buyer@example.test", name: str = "Buyer") -> str:
    with tenant.http() as http:
        resp = http.post("/customers", json={"email": email, "name": name})
    assert resp.status_code == 200, resp.text
    customer_id = resp.json()["customer_id"]
    assert isinstance(customer_id, str)
    return customer_id


def make_key(
    tenant: Tenant, customer_id: str, product_id: str, key: str | None = None, **fields: Any
) -> dict[str, Any]:
    """Create a key: imported when `key` is given, else generated in the product's format."""
    body: dict[str, Any] = {"customer_id": customer_id, "product_id": product_id, **fields}
    if key is not None:
        body["key"] = key
    with tenant.http() as http:
        resp = http.post("/license_keys", json=body)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def setup_key(tenant: Tenant, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    """A product, a customer and one imported key: (product_id, customer_id, key)."""
    product_id = make_product(tenant)
    customer_id = make_customer(tenant)
    return product_id, customer_id, make_key(tenant, customer_id, product_id, unique(), **fields)


def activate(base_url: str, key: str, name: str = "laptop") -> httpx.Response:
    return net.post(
        base_url + "/licenses/activate", json={"license_key": key, "name": name}, timeout=30
    )


def in_db(server: Server, work: Callable[[AppContext, AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on the server's database, as the CLI does."""

    async def run() -> T:
        ctx = AppContext.from_settings(server.settings)
        try:
            async with ctx.db.write_sessions() as session, session.begin():
                return await work(ctx, session)
        finally:
            await ctx.close()

    return asyncio.run(run())


def issue_api_key(server: Server, business_id: str, mode: str) -> str:
    """One more API key for an existing business, in the given mode; returns its secret."""

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        issued = await business_service.create_api_key(session, ctx.vault, business_id, mode)
        return issued.secret

    return in_db(server, work)


def revoke_all_api_keys(server: Server, business_id: str) -> int:
    async def work(ctx: AppContext, session: AsyncSession) -> int:
        rows = await business_service.list_api_keys(session, business_id)
        for row in rows:
            await business_service.revoke_api_key(session, business_id, row.id)
        return len(rows)

    return in_db(server, work)
