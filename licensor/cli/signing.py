"""`licensor signing-keys list|rotate|public`: a business's Ed25519 signing keys per mode."""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Annotated

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    echo_json,
    run,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.kit.context import AppContext

signing_app = typer.Typer(
    rich_markup_mode=None,
    help="Ed25519 signing keys (license files, signed answers).",
    no_args_is_help=True,
)


class KeyFormat(enum.StrEnum):
    jwks = "jwks"
    pem = "pem"


@signing_app.command("list")
def signing_keys_list(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List signing keys as JSON, current first (made on first use)."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> list[dict[str, str]]:
        await business_service.find_business(session, business_id)
        await signing_service.current_key(session, ctx.vault, business_id, mode.value)
        keys = await signing_service.list_keys(session, business_id, mode.value)
        return [
            {
                "kid": k.kid,
                "state": "current" if i == 0 else "previous",
                "created_at": k.created_at.isoformat(),
                "public_key": signing_service.b64url(k.public_key),
            }
            for i, k in enumerate(keys)
        ]

    echo_json(run(data_dir, database_url, work))


@signing_app.command("rotate")
def signing_keys_rotate(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a new current signing key; files signed by older keys still verify."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await business_service.find_business(session, business_id)
        return (await signing_service.rotate(session, ctx.vault, business_id, mode.value)).kid

    typer.echo(json.dumps({"kid": run(data_dir, database_url, work)}))


@signing_app.command("public")
def signing_keys_public(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    fmt: Annotated[KeyFormat, typer.Option("--format", help="jwks or pem.")] = KeyFormat.jwks,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the public keys (JWKS, or PEM blocks with their kid), to ship with client software."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await business_service.find_business(session, business_id)
        await signing_service.current_key(session, ctx.vault, business_id, mode.value)
        keys = await signing_service.list_keys(session, business_id, mode.value)
        if fmt is KeyFormat.pem:
            return "".join(f"# kid: {k.kid}\n{signing_service.public_pem(k)}" for k in keys)
        return json.dumps(signing_service.jwks(keys), indent=2)

    typer.echo(run(data_dir, database_url, work))
