"""`licensor subscriptions instances|revoke-instance`: a subscription's cloud instances,
and revoking one (the same service as `POST /subscriptions/{id}/cloud_instances/{ins}/revoke`)."""

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
    run_as,
)
from licensor.cli.desk_catalog import subscriptions_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext
    from licensor.license_desk.cloud_schemas import CloudInstanceOut

SubscriptionId = Annotated[str, typer.Argument(help="Subscription id (sub_…).")]


@subscriptions_app.command("instances")
def subscriptions_instances(
    subscription_id: SubscriptionId,
    business_id: BusinessId,
    page_number: Annotated[int, typer.Option(min=0, help="From 0.")] = 0,
    page_size: Annotated[int, typer.Option(min=1, max=100)] = 100,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The subscription's cloud instances (active, code_revoked or revoked), the last
    activated first."""
    from licensor.kit.pagination import PageParams
    from licensor.license_desk import cloud_instance_service

    page = PageParams(page_number=page_number, page_size=page_size)

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        return await cloud_instance_service.list_page(session, who, subscription_id, page)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("revoke-instance")
def subscriptions_revoke_instance(
    subscription_id: SubscriptionId,
    instance: Annotated[str, typer.Argument(help="The cloud instance's id (ins_…).")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a cloud instance: its seat links and re-activations are refused for good,
    and its slot is freed."""
    from licensor.license_desk import cloud_instance_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> CloudInstanceOut:
        return await cloud_instance_service.revoke(session, who, subscription_id, instance)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))
