"""`licensor signing-keys list|rotate|retire|revoke|public`: a business's Ed25519 signing
keys per mode (the API's `/signing_keys` routes, the same service)."""

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
    from licensor.signing.schemas import SigningKeyChange, SigningKeyOut

signing_app = typer.Typer(
    rich_markup_mode=None,
    help="Ed25519 signing keys (license files, signed answers, revocation lists).",
    no_args_is_help=True,
)

Kid = Annotated[str, typer.Argument(help="The key id (sig_…).")]


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
    """List signing keys as JSON (active first, then retired and revoked, newest first);
    the active key is made on first use."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> list[SigningKeyOut]:
        await business_service.find_business(session, business_id)
        await signing_service.current_key(session, ctx.vault, business_id, mode.value)
        keys = await signing_service.list_keys(session, business_id, mode.value)
        return [signing_service.to_out(k) for k in keys]

    echo_json(run(data_dir, database_url, work))


@signing_app.command("rotate")
def signing_keys_rotate(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make a new active signing key; the previous one is retired (its files still verify)."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> SigningKeyOut:
        await business_service.find_business(session, business_id)
        key = await signing_service.rotate(session, ctx.vault, business_id, mode.value)
        return signing_service.to_out(key)

    echo_json(run(data_dir, database_url, work))


@signing_app.command("retire")
def signing_keys_retire(
    kid: Kid,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Retire the active key: a new active key signs from now on (409 for any other key)."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> SigningKeyChange:
        await business_service.find_business(session, business_id)
        key, new = await signing_service.retire(session, ctx.vault, business_id, mode.value, kid)
        return signing_service.to_change(key, new)

    echo_json(run(data_dir, database_url, work))


@signing_app.command("revoke")
def signing_keys_revoke(
    kid: Kid,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: it leaves the JWKS and enters the revocation list. Revoking the
    active key also makes its replacement (`replaced_by`)."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> SigningKeyChange:
        await business_service.find_business(session, business_id)
        key, new = await signing_service.revoke(session, ctx.vault, business_id, mode.value, kid)
        return signing_service.to_change(key, new)

    echo_json(run(data_dir, database_url, work))


@signing_app.command("public")
def signing_keys_public(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    fmt: Annotated[KeyFormat, typer.Option("--format", help="jwks or pem.")] = KeyFormat.jwks,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the published public keys (JWKS, or PEM blocks with their kid; revoked keys
    left out), to ship with client software."""
    from licensor.business import service as business_service
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await business_service.find_business(session, business_id)
        await signing_service.current_key(session, ctx.vault, business_id, mode.value)
        keys = await signing_service.list_keys(session, business_id, mode.value)
        if fmt is KeyFormat.pem:
            published = signing_service.published(keys)
            return "".join(f"# kid: {k.kid}\n{signing_service.public_pem(k)}" for k in published)
        return json.dumps(signing_service.jwks(keys), indent=2)

    typer.echo(run(data_dir, database_url, work))
