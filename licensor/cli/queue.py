"""`licensor deliveries list|retry|cancel`: the email queue (licensor/delivery/queue.py).

`list` is per business and mode; `retry` and `cancel` take a delivery id and act in the
delivery's own business and mode (the CLI is the operator)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from licensor.cli.common import BusinessId, DatabaseUrl, DataDir, Mode, ModeOption, run, run_as

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.kit.context import AppContext
    from licensor.kit.tenancy import Principal

deliveries_app = typer.Typer(
    rich_markup_mode=None,
    help="The email queue: queued and failed deliveries, retry and cancel.",
    no_args_is_help=True,
)
DeliveryId = Annotated[str, typer.Argument(help="The delivery (eml_…).")]


class Which(StrEnum):
    all = "all"
    queued = "queued"
    failed = "failed"


async def _owner(session: AsyncSession, job_id: str) -> Principal:
    from licensor.kit.errors import NotFound
    from licensor.kit.tenancy import Principal
    from licensor.models import EmailJob

    usable = len(job_id) <= 64 and job_id.isprintable()
    job = await session.get(EmailJob, job_id) if usable else None
    if job is None:
        raise NotFound(f"delivery {job_id} not found", code="DELIVERY_NOT_FOUND")
    return Principal(business_id=job.business_id, mode=job.mode, api_key_id="cli")  # type: ignore[arg-type]


@deliveries_app.command("list")
def list_queue(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    status: Annotated[Which, typer.Option(help="queued (and sending), failed, or all.")] = (
        Which.all
    ),
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The business's queued and failed deliveries, newest first, one JSON object a line."""
    from licensor.delivery import queue, service
    from licensor.kit.pagination import PageParams

    async def work(
        ctx: AppContext, session: AsyncSession, who: Principal
    ) -> list[dict[str, object]]:
        params = PageParams(page_number=0, page_size=limit)
        jobs = await queue.page(session, who, status.value, params)
        return [service.to_out(j).model_dump(mode="json") for j in jobs]

    for item in run_as(business_id, mode, data_dir, database_url, work):
        typer.echo(json.dumps(item))


@deliveries_app.command("retry")
def retry(
    delivery_id: DeliveryId, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Queue a failed delivery again: same message, a fresh round of attempts."""
    from licensor.delivery import queue, service

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        who = await _owner(session, delivery_id)
        limit = ctx.settings.mail_max_attempts
        job = await queue.retry(session, who, delivery_id, max_attempts=limit)
        return service.to_out(job).model_dump(mode="json")

    typer.echo(json.dumps(run(data_dir, database_url, work)))


@deliveries_app.command("cancel")
def cancel(
    delivery_id: DeliveryId, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Cancel a queued delivery: no worker sends it."""
    from licensor.delivery import queue, service

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        who = await _owner(session, delivery_id)
        return service.to_out(await queue.cancel(session, who, delivery_id)).model_dump(mode="json")

    typer.echo(json.dumps(run(data_dir, database_url, work)))
