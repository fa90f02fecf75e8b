"""`licensor`: serve, migrate, bootstrap a business, manage API and signing keys.

Conventions for every command are in `licensor/cli/common.py` (JSON out, JSON errors,
`--mode` defaults to test, one transaction per command, no web stack at import time).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

import licensor.cli.license_keys  # noqa: F401  (its commands join license_keys_app)
from licensor.cli import desk as desk_cli
from licensor.cli.audit import audit_app
from licensor.cli.common import (
    BusinessId,
    CliGroup,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    apply_overrides,
    echo_json,
    run,
    upgrade_database,
)
from licensor.cli.db import db_app
from licensor.cli.delivery import mail_settings_app, worker
from licensor.cli.groups import license_keys_app
from licensor.cli.machines import products_app
from licensor.cli.orgs import app as orgs_app
from licensor.cli.queue import deliveries_app
from licensor.cli.signing import signing_app
from licensor.cli.staff import staff_app
from licensor.cli.webhooks import webhooks_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.kit.context import AppContext

app = typer.Typer(
    rich_markup_mode=None,
    help="Licensor, a self-hostable license-key server.",
    no_args_is_help=True,
    cls=CliGroup,
)
keys_app = typer.Typer(rich_markup_mode=None, help="Management API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="api-keys")
app.add_typer(signing_app, name="signing-keys")
app.add_typer(products_app, name="products")
app.add_typer(license_keys_app, name="license-keys")
desk_cli.register(app)
app.add_typer(orgs_app, name="orgs")
app.add_typer(staff_app, name="staff")
app.add_typer(mail_settings_app, name="mail-settings")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(deliveries_app, name="deliveries")
app.command("worker")(worker)


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
    typer.echo(
        f"Licensor on http://{host or settings.host}:{port or settings.port} "
        f"({'SQLite' if settings.is_sqlite else 'PostgreSQL'})",
        err=True,
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


@app.command()
def bootstrap(
    business: Annotated[str, typer.Option(help="Business name.")],
    email: Annotated[str, typer.Option(help="Owner's email.")],
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create (idempotently) a business and its owner, and print a new API key as one JSON line."""
    from licensor.business import service as business_service

    settings = apply_overrides(data_dir, database_url)
    upgrade_database(settings)

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, str]:
        done = await business_service.bootstrap(
            session, ctx.vault, business_name=business, owner_email=email, mode=mode.value
        )
        return {"business_id": done.business.id, "api_key": done.api_key.secret}

    typer.echo(json.dumps(run(data_dir, database_url, work, settings=settings)))


@keys_app.command("create")
def api_keys_create(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    name: Annotated[str, typer.Option(help="A label.")] = "default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API key; its secret is printed once."""
    from licensor.business import service as business_service

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, str]:
        await business_service.find_business(session, business_id)
        issued = await business_service.create_api_key(
            session, ctx.vault, business_id, mode.value, name
        )
        return {"id": issued.row.id, "api_key": issued.secret, "mode": issued.row.mode}

    typer.echo(json.dumps(run(data_dir, database_url, work)))


@keys_app.command("list")
def api_keys_list(
    business_id: BusinessId,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List a business's API keys as JSON (prefixes only: secrets are never kept)."""
    from licensor.business import service as business_service

    async def work(ctx: AppContext, session: AsyncSession) -> list[dict[str, str | None]]:
        await business_service.find_business(session, business_id)
        rows = await business_service.list_api_keys(session, business_id)
        return [
            {
                "id": r.id,
                "mode": r.mode,
                "name": r.name,
                "prefix": r.display_prefix,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in rows
        ]

    echo_json(run(data_dir, database_url, work))


@keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(help="API key id (key_…).")],
    business_id: BusinessId,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key at once."""
    from licensor.business import service as business_service

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        row = await business_service.revoke_api_key(session, business_id, key_id)
        return row.id

    revoked = run(data_dir, database_url, work)
    typer.echo(f"revoked {revoked}", err=True)
    typer.echo(json.dumps({"revoked": revoked}))


@functools.cache
def command() -> CliGroup:
    """`app`'s click command tree, built once per process. `app()` has Typer build it again
    on every call (about 80 ms of reading signatures and type hints): paid once by the
    `licensor` entry point, but per command by an in-process runner or a fork server."""
    return cast(CliGroup, typer.main.get_command(app))


def main(args: list[str] | None = None) -> Any:
    """The `licensor` entry point (`python -m licensor` too): `app()` on the cached tree
    (errors print as JSON through `CliGroup` as before; a crash prints Python's own
    traceback, not Typer's pretty one)."""
    return command()(args)
