"""`licensor`: serve, migrate, bootstrap a business, manage API keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.business import service as business_service
from licensor.cli import desk as desk_cli
from licensor.cli.common import (
    DatabaseUrl,
    DataDir,
    apply_overrides,
    err,
    in_transaction,
    upgrade_database,
)
from licensor.cli.delivery import mail_settings_app, worker
from licensor.cli.orgs import app as orgs_app
from licensor.kit.context import AppContext
from licensor.kit.errors import LicensorError
from licensor.kit.migrate import revision as write_revision
from licensor.signing import service as signing_service

app = typer.Typer(help="Licensor, a self-hostable license-key server.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Management API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="api-keys")
signing_app = typer.Typer(
    help="Ed25519 signing keys (license files, signed answers).", no_args_is_help=True
)
app.add_typer(signing_app, name="signing-keys")
desk_cli.register(app)
app.add_typer(orgs_app, name="orgs")
app.add_typer(mail_settings_app, name="mail-settings")
app.command("worker")(worker)


def _fail(exc: LicensorError) -> typer.Exit:
    err.print(f"[red]error[/red] {exc.code}: {exc.message}")
    return typer.Exit(code=1)


@app.command()
def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Bind address (env LICENSOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env LICENSOR_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first.")] = True,
) -> None:
    """Run the HTTP server."""
    import uvicorn

    settings = apply_overrides(data_dir, database_url)
    if migrate:
        upgrade_database(settings)
    err.print(
        f"Licensor on http://{host or settings.host}:{port or settings.port} "
        f"({'SQLite' if settings.is_sqlite else 'PostgreSQL'})"
    )
    uvicorn.run(
        "licensor.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        http="licensor.kit.edge:EdgeProtocol",  # httptools with the edge's limits
        loop="uvloop",
        timeout_keep_alive=settings.keep_alive_seconds,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the rate limiter decides whom to believe (trusted_proxies)
    )


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    upgrade_database(apply_overrides(data_dir, database_url))
    err.print("database is up to date")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration does.")],
    directory: Annotated[
        Path | None, typer.Option(help="Write it here instead of licensor/migrations/versions.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write a new migration (YYYY_MM_DD_<rev>_<slug>.py) from the models' difference to the
    database, which is brought to head first."""
    settings = apply_overrides(data_dir, database_url)
    upgrade_database(settings)
    written = write_revision(settings.resolved_database_url, message, directory)
    err.print(f"wrote {written}")


@app.command()
def bootstrap(
    business: Annotated[str, typer.Option(help="Business name.")],
    email: Annotated[str, typer.Option(help="Owner's email.")],
    mode: Annotated[str, typer.Option(help="test or live.")] = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create (idempotently) a business and its owner, and print a new API key as one JSON line."""
    settings = apply_overrides(data_dir, database_url)
    upgrade_database(settings)

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, str]:
        done = await business_service.bootstrap(
            session, ctx.vault, business_name=business, owner_email=email, mode=mode
        )
        return {"business_id": done.business.id, "api_key": done.api_key.secret}

    try:
        result = in_transaction(settings, work)
    except LicensorError as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(result))


@keys_app.command("create")
def api_keys_create(
    business_id: Annotated[str, typer.Option(help="Business id.")],
    mode: Annotated[str, typer.Option(help="test or live.")] = "test",
    name: Annotated[str, typer.Option(help="A label.")] = "default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API key; its secret is printed once."""
    settings = apply_overrides(data_dir, database_url)

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, str]:
        await business_service.find_business(session, business_id)
        issued = await business_service.create_api_key(session, ctx.vault, business_id, mode, name)
        return {"id": issued.row.id, "api_key": issued.secret, "mode": issued.row.mode}

    try:
        typer.echo(json.dumps(in_transaction(settings, work)))
    except LicensorError as exc:
        raise _fail(exc) from exc


@keys_app.command("list")
def api_keys_list(
    business_id: Annotated[str, typer.Option(help="Business id.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List a business's API keys (prefixes only: secrets are never kept)."""
    settings = apply_overrides(data_dir, database_url)

    async def work(ctx: AppContext, session: AsyncSession) -> list[list[str]]:
        rows = await business_service.list_api_keys(session, business_id)
        return [
            [
                r.id,
                r.mode,
                r.name,
                r.display_prefix + "…",
                r.created_at.isoformat(),
                r.revoked_at.isoformat() if r.revoked_at else "",
            ]
            for r in rows
        ]

    table = Table("id", "mode", "name", "prefix", "created", "revoked")
    for row in in_transaction(settings, work):
        table.add_row(*row)
    Console().print(table)


@keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(help="API key id (key_…).")],
    business_id: Annotated[str, typer.Option(help="Business id.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key at once."""
    settings = apply_overrides(data_dir, database_url)

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        row = await business_service.revoke_api_key(session, business_id, key_id)
        return row.id

    try:
        err.print(f"revoked {in_transaction(settings, work)}")
    except LicensorError as exc:
        raise _fail(exc) from exc


@signing_app.command("list")
def signing_keys_list(
    business_id: Annotated[str, typer.Option(help="Business id.")],
    mode: Annotated[str, typer.Option(help="test or live.")] = "live",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List signing keys, current first (made on first use)."""
    settings = apply_overrides(data_dir, database_url)

    async def work(ctx: AppContext, session: AsyncSession) -> list[list[str]]:
        await business_service.find_business(session, business_id)
        await signing_service.current_key(session, ctx.vault, business_id, mode)
        keys = await signing_service.list_keys(session, business_id, mode)
        return [
            [
                k.kid,
                "current" if i == 0 else "previous",
                k.created_at.isoformat(),
                signing_service.b64url(k.public_key),
            ]
            for i, k in enumerate(keys)
        ]

    try:
        rows = in_transaction(settings, work)
    except LicensorError as exc:
        raise _fail(exc) from exc
    table = Table("kid", "state", "created", "public key (base64url)")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@signing_app.command("rotate")
def signing_keys_rotate(
    business_id: Annotated[str, typer.Option(help="Business id.")],
    mode: Annotated[str, typer.Option(help="test or live.")] = "live",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a new current signing key; files signed by older keys still verify."""
    settings = apply_overrides(data_dir, database_url)

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await business_service.find_business(session, business_id)
        return (await signing_service.rotate(session, ctx.vault, business_id, mode)).kid

    try:
        typer.echo(json.dumps({"kid": in_transaction(settings, work)}))
    except LicensorError as exc:
        raise _fail(exc) from exc


@signing_app.command("public")
def signing_keys_public(
    business_id: Annotated[str, typer.Option(help="Business id.")],
    mode: Annotated[str, typer.Option(help="test or live.")] = "live",
    fmt: Annotated[str, typer.Option("--format", help="jwks or pem.")] = "jwks",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the public keys (JWKS, or PEM blocks with their kid), to ship with client software."""
    settings = apply_overrides(data_dir, database_url)

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await business_service.find_business(session, business_id)
        await signing_service.current_key(session, ctx.vault, business_id, mode)
        keys = await signing_service.list_keys(session, business_id, mode)
        if fmt == "pem":
            return "".join(f"# kid: {k.kid}\n{signing_service.public_pem(k)}" for k in keys)
        return json.dumps(signing_service.jwks(keys), indent=2)

    try:
        typer.echo(in_transaction(settings, work))
    except LicensorError as exc:
        raise _fail(exc) from exc
