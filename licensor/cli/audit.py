"""`licensor audit list|verify`: read a business's audit log; walk its hash chains."""

from __future__ import annotations

from datetime import datetime
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
    run,
    run_as,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.audit.verify import ChainReport
    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext

audit_app = typer.Typer(
    rich_markup_mode=None,
    help="The audit log: every change, append-only and hash-chained per business and mode.",
    no_args_is_help=True,
)
Text = Annotated[str | None, typer.Option(help="Exact match.")]


@audit_app.command("list")
def audit_list(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    target_type: Text = None,
    target_id: Text = None,
    actor: Text = None,
    action: Text = None,
    since: Annotated[
        datetime | None, typer.Option(help="created_at_gte (ISO 8601, UTC when naive).")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="created_at_lte.")] = None,
    page_number: Annotated[int, typer.Option(min=0)] = 0,
    page_size: Annotated[int, typer.Option(min=1, max=100)] = 100,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Events as JSON, newest first (the filters of GET /audit_events)."""
    from licensor.audit import service
    from licensor.kit.clock import as_utc
    from licensor.kit.pagination import PageParams

    page = PageParams(page_number=page_number, page_size=page_size)

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> list[Any]:
        await service.seal_chain(session, who.business_id, who.mode)
        return list(
            await service.list_page(
                session,
                who.business_id,
                who.mode,
                page,
                target_type=target_type,
                target_id=target_id,
                actor=actor,
                action=action,
                created_at_gte=as_utc(since) if since else None,
                created_at_lte=as_utc(until) if until else None,
            )
        )

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@audit_app.command("verify")
def audit_verify(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    seal: Annotated[
        bool,
        typer.Option(
            help="Seal the chain's unsealed events first (the default); --no-seal walks "
            "what the sealer has chained so far and counts the rest (`unsealed`)."
        ),
    ] = True,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Walk the chain(s) and name the first event that was edited, deleted or reordered.

    One chain per run, as every command's `--mode` (test by default; `--mode live` for the
    live chain). Prints its report (JSON, a list of one); exit code 1 (AUDIT_CHAIN_BROKEN)
    when it is broken.
    The report's `head_hash` is worth keeping elsewhere: a later run can be compared to it.
    """
    from licensor.audit import service
    from licensor.audit.verify import AuditChainBroken
    from licensor.business import service as business_service

    modes = [mode.value]

    async def work(ctx: AppContext, session: AsyncSession) -> list[ChainReport]:
        await business_service.find_business(session, business_id)
        return [await service.verify(session, business_id, m, seal=seal) for m in modes]

    reports = run(data_dir, database_url, work, read_only=not seal)  # --no-seal writes nothing
    echo_json(reports)
    broken = [r for r in reports if r.fault is not None]
    if broken:
        fault = broken[0].fault
        assert fault is not None
        raise fail(AuditChainBroken.code, f"{broken[0].mode} chain: {fault.message}")
