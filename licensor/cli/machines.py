"""`licensor products …` (a product and its license policy) and `licensor license-keys …`
(the seats of a key, and releasing one): docs/machines.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    apply_overrides,
    cli_actor,
    echo_json,
    fail,
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


@license_keys_app.command("activate-offline")
def license_keys_activate_offline(
    request_file: Annotated[
        Path,
        typer.Argument(help="The machine's activation request (`python -m verifier.request`)."),
    ],
    business_id: BusinessId,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the license file here (default: print it)."),
    ] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Air-gapped activation (as `POST /license_keys/offline_activations`): activate the
    request's machine on its license key and write the license file bound to it. With
    `-o`, prints what was activated (JSON); without, prints the file."""
    import asyncio

    from licensor.business import service as business_service
    from licensor.kit.context import AppContext
    from licensor.kit.deps import reading
    from licensor.kit.errors import LicensorError
    from licensor.kit.origin import Origin
    from licensor.license_desk import machine_file
    from licensor.license_desk.machine_schemas import OfflineActivationOut

    try:
        text = request_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("ACTIVATION_REQUEST_INVALID", f"cannot read {request_file}: {exc}") from exc
    settings = apply_overrides(data_dir, database_url)

    async def go() -> OfflineActivationOut:
        ctx = AppContext.from_settings(settings)
        try:
            async with reading(ctx.db) as session:
                await business_service.find_business(session, business_id)
            async with machine_file.standalone(ctx) as (checks, signer):
                done = await machine_file.activate(
                    checks, signer, business_id, mode.value, text, Origin(cli_actor())
                )
            return OfflineActivationOut.of(done)
        finally:
            await ctx.close()

    try:
        out = asyncio.run(go())
    except LicensorError as exc:
        raise fail(exc.code, exc.message) from exc
    if output is None:
        typer.echo(out.license_file, nl=False)
        return
    output.write_text(out.license_file, encoding="ascii")
    echo_json(out.model_dump(mode="json", exclude={"license_file"}))
