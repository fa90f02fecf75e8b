"""`licensor licenses send|deliveries|resend`, `licensor mail-settings`, `licensor worker`.

`send`, `deliveries` and `resend` take a core license key id (`lic_…`: the key email) or
a desk license id (`dlc_…`: the license file email); the id decides which."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    apply_overrides,
    parse,
    run,
)
from licensor.cli.groups import licenses_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.delivery.schemas import DeliveryCreate
    from licensor.kit.context import AppContext
    from licensor.models import EmailJob

mail_settings_app = typer.Typer(
    rich_markup_mode=None, help="A business's license email settings.", no_args_is_help=True
)

DESK_PREFIX = "dlc_"
LICENSE_ID_HELP = "License key id (lic_…) or desk license id (dlc_…)."


def _is_desk(license_id: str) -> bool:
    return license_id.startswith(DESK_PREFIX)


async def _owner_of(session: AsyncSession, license_id: str) -> Principal:
    """The CLI is the operator: a license's own business and mode."""
    from licensor.auth.dependencies import Principal
    from licensor.kit.errors import NotFound
    from licensor.models import DeskLicense, LicenseKey

    usable = len(license_id) <= 64 and license_id.isprintable()
    row: DeskLicense | LicenseKey | None = None
    if usable and _is_desk(license_id):
        row = await session.get(DeskLicense, license_id)
        if row is None:
            raise NotFound(f"license {license_id} not found", code="LICENSE_NOT_FOUND")
    elif usable:
        row = await session.get(LicenseKey, license_id)
    if row is None:
        raise NotFound(f"license key {license_id} not found", code="LICENSE_KEY_NOT_FOUND")
    return Principal(business_id=row.business_id, mode=row.mode, api_key_id="cli")  # type: ignore[arg-type]


async def _send(
    session: AsyncSession, ctx: AppContext, license_id: str, body: DeliveryCreate
) -> EmailJob:
    from licensor.delivery import service
    from licensor.license_desk import mail as desk_mail
    from licensor.license_desk import service as desk

    who = await _owner_of(session, license_id)
    if _is_desk(license_id):
        row = await desk.get(session, who, license_id)
        return await desk_mail.send_license(session, ctx, row, to=body.to, reason=body.reason)
    return await service.send_license_key(session, ctx, who, license_id, body)


async def _deliveries(session: AsyncSession, license_id: str) -> list[EmailJob]:
    from licensor.delivery import repository, service
    from licensor.license_desk import service as desk

    who = await _owner_of(session, license_id)
    if _is_desk(license_id):
        row = await desk.get(session, who, license_id)
        return await repository.list_for_license(session, who.business_id, who.mode, row.id)
    return await service.list_for_license_key(session, who, license_id)


@licenses_app.command("send")
def send(
    license_id: Annotated[str, typer.Argument(help=LICENSE_ID_HELP)],
    to: Annotated[str | None, typer.Option(help="Another recipient (needs --reason).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why it goes to another address.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Queue the license email to the licensee (or, with --to and --reason, elsewhere)."""
    from licensor.delivery import service
    from licensor.delivery.schemas import DeliveryCreate

    body = parse(DeliveryCreate, {"to": to, "reason": reason})

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        job = await _send(session, ctx, license_id, body)
        return service.to_out(job).model_dump(mode="json")

    typer.echo(json.dumps(run(data_dir, database_url, work)))


@licenses_app.command("deliveries")
def deliveries(
    license_id: Annotated[str, typer.Argument(help=LICENSE_ID_HELP)],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a license's emails (status, attempts, last error), one JSON object a line."""
    from licensor.delivery import service

    async def work(ctx: AppContext, session: AsyncSession) -> list[dict[str, object]]:
        jobs = await _deliveries(session, license_id)
        return [service.to_out(j).model_dump(mode="json") for j in jobs]

    for item in run(data_dir, database_url, work):
        typer.echo(json.dumps(item))


@licenses_app.command("resend")
def resend(
    license_id: Annotated[str, typer.Argument(help=LICENSE_ID_HELP)],
    delivery_id: Annotated[str, typer.Argument(help="The failed or lost delivery (eml_…).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Queue a failed or lost delivery again, as a new delivery."""
    from licensor.delivery import service

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        who = await _owner_of(session, license_id)
        job = await service.resend(session, ctx, who, license_id, delivery_id)
        return service.to_out(job).model_dump(mode="json")

    typer.echo(json.dumps(run(data_dir, database_url, work)))


@licenses_app.command("issue-key")
def issue_key(
    business_id: BusinessId,
    customer_id: Annotated[str, typer.Option(help="Customer id (cus_…).")],
    product_id: Annotated[str, typer.Option(help="Product id (pdt_…).")],
    mode: ModeOption = Mode.test,
    send: Annotated[bool, typer.Option(help="Email it to the licensee.")] = False,
    to: Annotated[str | None, typer.Option(help="Another recipient (needs --reason).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why it goes to another address.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a license key; with --send, its email is queued in the same transaction."""
    from licensor.auth.dependencies import Principal
    from licensor.business import service as business_service
    from licensor.delivery import service
    from licensor.delivery.schemas import DeliveryCreate
    from licensor.license_key import service as license_key_service
    from licensor.license_key.schemas import LicenseKeyCreate

    body = parse(DeliveryCreate, {"to": to, "reason": reason})
    create = parse(LicenseKeyCreate, {"customer_id": customer_id, "product_id": product_id})

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        await business_service.find_business(session, business_id)
        who = Principal(business_id=business_id, mode=mode.value, api_key_id="cli")
        row = await license_key_service.create(session, ctx.vault, who, create)
        out: dict[str, object] = {"id": row.id, "key": ctx.vault.decrypt(row.key_encrypted, row.id)}
        if send or to is not None:
            job = await service.send_license_key(session, ctx, who, row.id, body)
            out["delivery"] = service.to_out(job).model_dump(mode="json")
        return out

    typer.echo(json.dumps(run(data_dir, database_url, work)))


def _domains(values: str | None) -> list[str] | None:
    return None if values is None else [v.strip() for v in values.split(",") if v.strip()]


@mail_settings_app.command("show")
def settings_show(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the business's mail settings as JSON."""
    from licensor.business import service as business_service
    from licensor.delivery import mail_settings

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        await business_service.find_business(session, business_id)
        return (await mail_settings.get(session, business_id, mode.value)).model_dump(mode="json")

    typer.echo(json.dumps(run(data_dir, database_url, work)))


@mail_settings_app.command("set")
def settings_set(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    sender_name: Annotated[str | None, typer.Option(help="From name.")] = None,
    sender_email: Annotated[str | None, typer.Option(help="From address.")] = None,
    reply_to: Annotated[str | None, typer.Option(help="Reply-To address.")] = None,
    footer: Annotated[str | None, typer.Option(help="Footer text.")] = None,
    domain: Annotated[str | None, typer.Option(help="Domain for Message-IDs.")] = None,
    staff_domains: Annotated[str | None, typer.Option(help="Comma-separated.")] = None,
    reseller_domains: Annotated[str | None, typer.Option(help="Comma-separated.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change the given fields; the others keep their value."""
    from licensor.business import service as business_service
    from licensor.delivery import mail_settings
    from licensor.delivery.schemas import MailSettingsIn

    given = {
        "sender_name": sender_name,
        "sender_email": sender_email,
        "reply_to": reply_to,
        "footer": footer,
        "domain": domain,
        "staff_domains": _domains(staff_domains),
        "reseller_domains": _domains(reseller_domains),
    }

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, object]:
        await business_service.find_business(session, business_id)
        current = (await mail_settings.get(session, business_id, mode.value)).model_dump()
        current.update({k: v for k, v in given.items() if v is not None})
        body = MailSettingsIn.model_validate(current)  # a ValidationError: VALIDATION_ERROR
        saved = await mail_settings.put(session, business_id, mode.value, body)
        return saved.model_dump(mode="json")

    typer.echo(json.dumps(run(data_dir, database_url, work)))


def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    once: Annotated[bool, typer.Option(help="Deliver what is due, then exit.")] = False,
) -> None:
    """Deliver the outbox (alone, without the HTTP server): license emails over SMTP
    when LICENSOR_SMTP_HOST is set, and webhook deliveries."""
    import asyncio
    import contextlib
    import signal

    from licensor.audit.sealer import seal_all
    from licensor.delivery.worker import Worker, warn_plaintext_auth
    from licensor.kit.context import AppContext

    settings = apply_overrides(data_dir, database_url)
    if settings.smtp_configured:
        warn_plaintext_auth(settings)

    async def run() -> None:
        ctx = AppContext.from_settings(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            worker = Worker(ctx)
            if once:
                try:
                    await worker.run_once()
                    await seal_all(ctx.db)  # and the audit events written so far
                finally:
                    await worker.close()
            else:
                await worker.run_forever(stop)
        finally:
            await ctx.close()

    if settings.smtp_configured:
        typer.echo(f"licensor worker: SMTP {settings.smtp_host}:{settings.smtp_port}", err=True)
    else:
        typer.echo(
            "licensor worker: SMTP is not configured (LICENSOR_SMTP_HOST): webhooks only; "
            "license emails wait in the outbox",
            err=True,
        )
    asyncio.run(run())
