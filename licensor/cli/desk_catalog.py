"""`licensor plans …` and `licensor subscriptions …`: the desk's catalogue."""

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
    fail,
    group,
    parse,
    run_as,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext
    from licensor.plan.schemas import PlanOut
    from licensor.subscription.schemas import ActivationCodeOut

plans_app = group("Plans: codes, names and features.")
subscriptions_app = group("Customers' subscriptions and their activation codes.")
Feature = Annotated[list[str] | None, typer.Option("--feature", help="Repeat for each feature.")]
MaxInstances = Annotated[
    int | None,
    typer.Option(help="Cap on active cloud instances per subscription (at least 1)."),
]


async def _subscription_out(session: AsyncSession, row: Any) -> Any:
    """One subscription as the API answers it."""
    from licensor.subscription import service as subscription_service

    return (await subscription_service.to_out(session, [row]))[0]


@plans_app.command("create")
def plans_create(
    code: Annotated[str, typer.Option(help="Plan code, e.g. premium.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    business_id: BusinessId,
    feature: Feature = None,
    max_instances: MaxInstances = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a plan (--max-instances: 1 by default)."""
    from licensor.plan import service as plan_service
    from licensor.plan.schemas import PlanCreate, PlanOut

    fields = {"code": code, "name": name, "features": feature or [], "max_instances": max_instances}
    body = parse(PlanCreate, fields)

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> PlanOut:
        return PlanOut.model_validate(await plan_service.create(session, who, body))

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@plans_app.command("list")
def plans_list(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the plans."""
    from licensor.plan import repository as plan_repository
    from licensor.plan.schemas import PlanOut

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> list[PlanOut]:
        rows = await session.scalars(plan_repository.list_statement(who.business_id, who.mode))
        return [PlanOut.model_validate(r) for r in rows.all()]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@plans_app.command("update")
def plans_update(
    plan_id: Annotated[str, typer.Argument(help="Plan id (plan_…).")],
    business_id: BusinessId,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    feature: Feature = None,
    max_instances: MaxInstances = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rename a plan, replace its features or change its cap on cloud instances."""
    from licensor.plan import service as plan_service
    from licensor.plan.schemas import PlanOut, PlanUpdate

    body = parse(PlanUpdate, {"name": name, "features": feature, "max_instances": max_instances})

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> PlanOut:
        return PlanOut.model_validate(await plan_service.update(session, who, plan_id, body))

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@plans_app.command("delete")
def plans_delete(
    plan_id: Annotated[str, typer.Argument(help="Plan id (plan_…).")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete a plan no subscription uses."""
    from licensor.plan import service as plan_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> dict[str, str]:
        await plan_service.delete(session, who, plan_id)
        return {"deleted": plan_id}

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


CloudOpt = Annotated[str | None, typer.Option("--cloud-licensing", help="Yes, Offline or No.")]
SeatOpt = Annotated[
    bool | None,
    typer.Option("--seat-reconciliation/--no-seat-reconciliation", help="Cloud-compatible."),
]


@subscriptions_app.command("create")
def subscriptions_create(
    customer_id: Annotated[str, typer.Option(help="Customer id.")],
    plan_code: Annotated[str, typer.Option(help="Plan code.")],
    users_count: Annotated[int, typer.Option(help="Seats.")],
    starts_at: Annotated[str, typer.Option(help="ISO 8601 start.")],
    business_id: BusinessId,
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 end.")] = None,
    external_id: Annotated[str | None, typer.Option(help="Billing subscription id.")] = None,
    name: Annotated[str | None, typer.Option(help="Billing subscription name.")] = None,
    cloud_licensing: CloudOpt = None,
    seat_reconciliation: SeatOpt = None,
    max_instances: MaxInstances = None,
    send_email: Annotated[
        bool,
        typer.Option("--send", help="Cloud licensing Yes: email the activation code."),
    ] = False,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a subscription (cloud licensing Yes also creates its activation code;
    --send emails it to the customer in the same transaction)."""
    from licensor.subscription import service as subscription_service
    from licensor.subscription.schemas import SubscriptionCreate

    fields = {k: v for k, v in locals().items() if k in SubscriptionCreate.model_fields}
    body = parse(SubscriptionCreate, fields)

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        row = await subscription_service.create(session, ctx, who, body)
        return await _subscription_out(session, row)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("list")
def subscriptions_list(
    business_id: BusinessId,
    customer_id: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List subscriptions, newest first."""
    from licensor.subscription import repository as subscription_repository
    from licensor.subscription import service as subscription_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        stmt = subscription_repository.list_statement(who.business_id, who.mode, customer_id)
        rows = list((await session.scalars(stmt)).all())
        return await subscription_service.to_out(session, rows)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("get")
def subscriptions_get(
    subscription_id: Annotated[str, typer.Argument(help="sub_… id or billing id.")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a subscription."""
    from licensor.subscription import service as subscription_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        row = await subscription_service.resolve(session, who, subscription_id)
        return await _subscription_out(session, row)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("update")
def subscriptions_update(
    subscription_id: Annotated[str, typer.Argument(help="Subscription id (sub_…).")],
    business_id: BusinessId,
    plan_code: Annotated[str | None, typer.Option(help="New plan code.")] = None,
    users_count: Annotated[int | None, typer.Option(help="Seats.")] = None,
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 end.")] = None,
    cloud_licensing: CloudOpt = None,
    seat_reconciliation: SeatOpt = None,
    max_instances: MaxInstances = None,
    plan_max_instances: Annotated[
        bool,
        typer.Option("--plan-max-instances", help="Drop the subscription's own cap: the plan's."),
    ] = False,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change plan, seats, end date, cloud licensing or the cap on cloud instances (a
    renewal, an upgrade…)."""
    from licensor.subscription import service as subscription_service
    from licensor.subscription.schemas import SubscriptionUpdate

    fields = {
        "plan_code": plan_code,
        "users_count": users_count,
        "expires_at": expires_at,
        "cloud_licensing": cloud_licensing,
        "seat_reconciliation": seat_reconciliation,
        "max_instances": max_instances,
    }
    body = parse(SubscriptionUpdate, fields)
    if plan_max_instances:  # null: the plan's cap again
        if max_instances is not None:
            raise fail("VALIDATION_ERROR", "give --max-instances or --plan-max-instances")
        sent = body.model_dump(exclude_unset=True)
        body = SubscriptionUpdate.model_validate({**sent, "max_instances": None})

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        row = await subscription_service.update(session, ctx.vault, who, subscription_id, body)
        return await _subscription_out(session, row)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("cancel")
def subscriptions_cancel(
    subscription_id: Annotated[str, typer.Argument(help="Subscription id (sub_…).")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Cancel a subscription; its activation code is revoked."""
    from licensor.subscription import service as subscription_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        row = await subscription_service.cancel(session, who, subscription_id)
        return await _subscription_out(session, row)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("activation-code")
def subscriptions_activation_code(
    subscription_id: Annotated[str, typer.Argument(help="Subscription id (sub_…).")],
    business_id: BusinessId,
    regenerate: Annotated[
        bool, typer.Option(help="Make a new code (revokes the current one).")
    ] = False,
    send: Annotated[
        bool,
        typer.Option(
            "--send", help="Email the code (new or current) and instructions to the customer."
        ),
    ] = False,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show the subscription's activation code, or make a new one; --send emails it
    (cloud licensing Yes) in the same transaction."""
    from licensor.subscription import activation

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> ActivationCodeOut:
        return await activation.activation_code(
            session, ctx, who, subscription_id, regenerate=regenerate, send=send
        )

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@subscriptions_app.command("usage")
def subscriptions_usage(
    subscription_id: Annotated[str, typer.Argument(help="Subscription id (sub_…).")],
    business_id: BusinessId,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The seat links reported by the subscription's instances, with overage."""
    from licensor.subscription import repository as subscription_repository
    from licensor.subscription import service as subscription_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> Any:
        sub = await subscription_service.get(session, who, subscription_id)
        rows = await subscription_repository.seat_links(session, sub.id, limit, 0)
        return [
            {
                "instance_id": instance_id,
                "reported_at": link.reported_at.isoformat(),
                "billable_users_count": link.billable_users_count,
                "max_historical_users_count": link.max_historical_users_count,
                "licensed_users_count": link.licensed_users_count,
                "overage": link.overage,
                "license_id": link.license_id,
            }
            for link, instance_id in rows
        ]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))
