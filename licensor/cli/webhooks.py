"""`licensor webhooks list|create|rotate-secret|deliveries|delivery|resend`: a business's
webhook endpoints and their delivery log, through the API's services (JSON out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    echo_json,
    parse,
    run_as,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext

webhooks_app = typer.Typer(
    rich_markup_mode=None,
    help="Webhook endpoints, their signing secrets and delivery log.",
    no_args_is_help=True,
)
WebhookId = Annotated[str, typer.Argument(help="Webhook endpoint id (wh_…).")]
DeliveryId = Annotated[str, typer.Argument(help="Delivery id (whd_…).")]


@webhooks_app.command("list")
def list_(
    business_id: BusinessId, mode: ModeOption = Mode.test, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """The business's endpoints (up to 100)."""
    from licensor.webhooks import service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> object:
        return await service.list_page(session, who, None, 100)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@webhooks_app.command()
def create(
    business_id: BusinessId,
    url: Annotated[str, typer.Option(help="Where events are POSTed.")],
    description: Annotated[str | None, typer.Option()] = None,
    filter_type: Annotated[
        list[str] | None, typer.Option(help="An event type to send (repeat); none: all.")
    ] = None,
    rate_limit: Annotated[int | None, typer.Option(help="Deliveries per second.")] = None,
    disabled: Annotated[bool, typer.Option(help="Create it disabled.")] = False,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A new endpoint (its secret: `rotate-secret`, or the API's GET …/secret)."""
    from licensor.webhooks import service
    from licensor.webhooks.schemas import WebhookCreate

    body = parse(
        WebhookCreate,
        {
            "url": url,
            "description": description,
            "filter_types": filter_type,
            "rate_limit": rate_limit,
            "disabled": disabled,
        },
    )

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> object:
        row = await service.create(session, ctx.vault, ctx.settings, who, body)
        return service.to_out(row)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@webhooks_app.command("rotate-secret")
def rotate_secret(
    business_id: BusinessId, webhook_id: WebhookId, mode: ModeOption = Mode.test,
    data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """A new signing secret; the old one also signs for 24 hours."""
    from licensor.webhooks import service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> object:
        fresh = await service.rotate_secret(session, ctx.vault, ctx.settings, who, webhook_id)
        return {"secret": fresh}

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@webhooks_app.command()
def deliveries(
    business_id: BusinessId,
    webhook_id: WebhookId,
    status: Annotated[str | None, typer.Option(help="queued, sending, sent or failed.")] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The endpoint's delivery log (up to 100)."""
    from licensor.webhooks import log

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> object:
        return await log.list_page(session, who, webhook_id, status, None, 100)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@webhooks_app.command()
def delivery(
    business_id: BusinessId, webhook_id: WebhookId, delivery_id: DeliveryId,
    mode: ModeOption = Mode.test, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """One delivery: the request sent and every attempt."""
    from licensor.webhooks import log

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> object:
        return await log.detail(session, ctx.vault, who, webhook_id, delivery_id)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@webhooks_app.command()
def resend(
    business_id: BusinessId, webhook_id: WebhookId, delivery_id: DeliveryId,
    mode: ModeOption = Mode.test, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Send a delivery's event again (a new delivery, the same webhook-id)."""
    from licensor.webhooks import log

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> object:
        return log.to_out(await log.resend(session, ctx.vault, who, webhook_id, delivery_id))

    echo_json(run_as(business_id, mode, data_dir, database_url, work))
