"""`licensor products …` (a product and its license policy) and `licensor license-keys …`
(the seats of a key, and releasing one): docs/machines.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    echo_json,
    group,
    parse,
    parse_value,
    run_as,
)
from licensor.cli.groups import license_keys_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext
    from licensor.product.schemas import ProductOut

products_app = group("Products and their license policy (machines, floating seats, grace).")
ProductArg = Annotated[str, typer.Argument(help="Product id (pdt_…).")]


async def _product_out(session: AsyncSession, row: Any) -> ProductOut:
    from licensor.product import service as product_service
    from licensor.product.schemas import ProductOut

    return ProductOut.from_row(row, await product_service.brand_of(session, row.business_id))


@products_app.command("get")
def products_get(
    product_id: ProductArg,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a product, with its license policy."""
    from licensor.product import service as product_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> ProductOut:
        return await _product_out(session, await product_service.get(session, who, product_id))

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@products_app.command("set-policy")
def products_set_policy(
    product_id: ProductArg,
    business_id: BusinessId,
    license_model: Annotated[
        str | None, typer.Option(help="node_locked (the default) or floating.")
    ] = None,
    fingerprint_match: Annotated[
        str | None, typer.Option(help="exact, case_insensitive or normalised.")
    ] = None,
    heartbeat_interval_seconds: Annotated[
        int | None, typer.Option(help="Floating: a machine sends a heartbeat this often.")
    ] = None,
    heartbeat_grace_seconds: Annotated[
        int | None, typer.Option(help="Floating: silent past interval + this, the seat goes.")
    ] = None,
    expiry_grace_days: Annotated[
        int | None, typer.Option(help="Days a key stays in grace after its expiry.")
    ] = None,
    grace_behaviour: Annotated[
        str | None, typer.Option(help="In grace: valid_with_warning or invalid.")
    ] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a product's license policy (as `PATCH /products/{id}` with `license_policy`):
    the options given change, the rest stay."""
    from licensor.product import service as product_service
    from licensor.product.schemas import ProductUpdate

    policy = {
        "license_model": license_model,
        "fingerprint_match": fingerprint_match,
        "heartbeat_interval_seconds": heartbeat_interval_seconds,
        "heartbeat_grace_seconds": heartbeat_grace_seconds,
        "expiry_grace_days": expiry_grace_days,
        "grace_behaviour": grace_behaviour,
    }
    given = {name: value for name, value in policy.items() if value is not None}
    body = parse(ProductUpdate, {"license_policy": given})

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> ProductOut:
        row = await product_service.update(session, who, product_id, body)
        return await _product_out(session, row)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@license_keys_app.command("seats")
def license_keys_seats(
    license_key_id: Annotated[str, typer.Argument(help="License key id (lic_…).")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The instances holding the key's seats (name, fingerprint, last heartbeat), newest
    first (at most 100)."""
    from licensor.kit.pagination import PageParams
    from licensor.license_key import instance_service
    from licensor.license_key import service as key_service
    from licensor.license_key.instance_schemas import InstanceOut

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> list[InstanceOut]:
        key = await key_service.get(session, who, license_key_id)
        page = PageParams(page_number=0, page_size=100)
        rows = await instance_service.list_page(session, who, page, key.id)
        return [InstanceOut.model_validate(row) for row in rows]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@license_keys_app.command("release-seat")
def license_keys_release_seat(
    instance_id: Annotated[str, typer.Argument(help="License key instance id (lki_…).")],
    business_id: BusinessId,
    reason: Annotated[
        str | None, typer.Option(help="Why: kept in the audit log and the webhook event.")
    ] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Free the seat an instance holds (as `DELETE /license_key_instances/{id}`); prints
    who held it."""
    from pydantic import TypeAdapter

    from licensor.license_key import seats
    from licensor.license_key.instance_schemas import InstanceOut

    note = parse_value(TypeAdapter(seats.Reason), reason or "", "reason") or None

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> dict[str, Any]:
        row = await seats.release(session, who, instance_id, note)
        held = InstanceOut.model_validate(row).model_dump(mode="json")
        return {"released": held, "reason": note}

    echo_json(run_as(business_id, mode, data_dir, database_url, work))
