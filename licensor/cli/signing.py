"""`licensor signing-keys list|rotate|retire|revoke|public`: a business's Ed25519 signing
keys per mode (the API's `/signing_keys` routes, the same service)."""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    echo_json,
    group,
    run_as,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext
    from licensor.kit.secrets import Vault
    from licensor.models import SigningKey
    from licensor.signing.schemas import SigningKeyChange, SigningKeyOut

    # retire or revoke: (session, vault, business, mode, kid) -> (the key, its replacement)
    KeyChange = Callable[
        [AsyncSession, Vault, str, str, str], Awaitable[tuple[SigningKey, SigningKey | None]]
    ]

signing_app = group("Ed25519 signing keys (license files, signed answers, revocation lists).")

Kid = Annotated[str, typer.Argument(help="The key id (sig_…).")]


class KeyFormat(enum.StrEnum):
    jwks = "jwks"
    pem = "pem"


async def _keys(ctx: AppContext, session: AsyncSession, who: Principal) -> list[SigningKey]:
    """Every key of the business and mode, the active one made on first use."""
    from licensor.signing import service as signing_service

    await signing_service.current_key(session, ctx.vault, who.business_id, who.mode)
    return await signing_service.list_keys(session, who.business_id, who.mode)


def _change(
    change: KeyChange, kid: str, business_id: str, mode: Mode, data_dir: DataDir, url: DatabaseUrl
) -> None:
    """Retire or revoke `kid`; print the key and its replacement (`replaced_by`)."""
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> SigningKeyChange:
        key, new = await change(session, ctx.vault, who.business_id, who.mode, kid)
        return signing_service.to_change(key, new)

    echo_json(run_as(business_id, mode, data_dir, url, work))


@signing_app.command("list")
def signing_keys_list(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List signing keys as JSON (active first, then retired and revoked, newest first);
    the active key is made on first use."""
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> list[SigningKeyOut]:
        return [signing_service.to_out(k) for k in await _keys(ctx, session, who)]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@signing_app.command("rotate")
def signing_keys_rotate(
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make a new active signing key; the previous one is retired (its files still verify)."""
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> SigningKeyOut:
        key = await signing_service.rotate(session, ctx.vault, who.business_id, who.mode)
        return signing_service.to_out(key)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@signing_app.command("retire")
def signing_keys_retire(
    kid: Kid,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Retire the active key: a new active key signs from now on (409 for any other key)."""
    from licensor.signing import service as signing_service

    _change(signing_service.retire, kid, business_id, mode, data_dir, database_url)


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
    from licensor.signing import service as signing_service

    _change(signing_service.revoke, kid, business_id, mode, data_dir, database_url)


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
    from licensor.signing import service as signing_service

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> str:
        keys = await _keys(ctx, session, who)
        if fmt is KeyFormat.pem:
            published = signing_service.published(keys)
            return "".join(f"# kid: {k.kid}\n{signing_service.public_pem(k)}" for k in published)
        return json.dumps(signing_service.jwks(keys), indent=2)

    typer.echo(run_as(business_id, mode, data_dir, database_url, work))
