"""`licensor orgs`: customer organisations' people, tokens and instance keys, as the vendor.

The operator acts for the vendor business: these commands need the database, not a
member's token. Secrets (invite tokens, personal tokens, license keys) print once.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.cli.common import DatabaseUrl, DataDir, apply_overrides, err, in_transaction
from licensor.instance_keys import repository as key_repository
from licensor.instance_keys import service as key_service
from licensor.kit.context import AppContext
from licensor.kit.errors import LicensorError, Unprocessable
from licensor.orgs import repository, service

app = typer.Typer(
    help="Customer organisations: members, tokens, self-hosted instance keys.",
    no_args_is_help=True,
)

OrgId = Annotated[str, typer.Argument(help="Organisation (customer) id, cus_…")]
BusinessId = Annotated[str, typer.Option("--business-id", help="The vendor business id.")]
Mode = Annotated[str, typer.Option(help="test or live.")]
ROLES = ("admin", "member")


def _run(data_dir: Path | None, database_url: str | None, work: Any) -> Any:
    try:
        return in_transaction(apply_overrides(data_dir, database_url), work)
    except LicensorError as exc:
        err.print(f"[red]error[/red] {exc.code}: {exc.message}")
        raise typer.Exit(code=1) from exc


def _invite(done: service.NewMember) -> dict[str, Any]:
    out: dict[str, Any] = {"id": done.member.id, "email": done.member.email}
    out["role"] = done.member.role
    if done.invite is not None:
        out["invite_token"] = done.invite.secret
        out["invite_expires_at"] = done.invite.row.expires_at.isoformat()
    return out


@app.command("add-owner")
def add_owner(
    org_id: OrgId,
    business_id: BusinessId,
    email: Annotated[str, typer.Option(help="The owner's email.")],
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add the organisation's first owner; prints a one-time invite token."""

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, Any]:
        org = await service.find_org(session, business_id, mode, org_id)
        return _invite(await service.add_owner(session, ctx.vault, org, email, None))

    typer.echo(json.dumps(_run(data_dir, database_url, work)))


@app.command("add-member")
def add_member(
    org_id: OrgId,
    business_id: BusinessId,
    email: Annotated[str, typer.Option(help="The member's email.")],
    role: Annotated[str, typer.Option(help="admin or member.")] = "member",
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Invite a member; prints a one-time invite token."""

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, Any]:
        if role not in ROLES:
            raise Unprocessable("role must be admin or member", code="VALIDATION_ERROR")
        org = await service.find_org(session, business_id, mode, org_id)
        return _invite(await service.add_member(session, ctx.vault, org, email, role, None))

    typer.echo(json.dumps(_run(data_dir, database_url, work)))


@app.command("members")
def list_members(
    org_id: OrgId,
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the organisation's members."""

    async def work(ctx: AppContext, session: AsyncSession) -> list[list[str]]:
        await service.find_org(session, business_id, mode, org_id)
        rows = await repository.members(session, org_id)
        return [[m.id, m.email, m.role, "active" if m.password_hash else "invited"] for m in rows]

    table = Table("id", "email", "role", "status")
    for row in _run(data_dir, database_url, work):
        table.add_row(*row)
    Console().print(table)


@app.command("set-role")
def set_role(
    org_id: OrgId,
    member_id: Annotated[str, typer.Argument(help="Member id, mem_…")],
    role: Annotated[str, typer.Argument(help="admin or member.")],
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a member's role (the owner changes only by a transfer)."""

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        if role not in ROLES:
            raise Unprocessable("role must be admin or member", code="VALIDATION_ERROR")
        await service.find_org(session, business_id, mode, org_id)
        return (await service.set_role(session, org_id, member_id, role)).role

    err.print(f"{member_id} is now {_run(data_dir, database_url, work)}")


@app.command("remove-member")
def remove_member(
    org_id: OrgId,
    member_id: Annotated[str, typer.Argument(help="Member id, mem_…")],
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a member (not the owner); their tokens stop working."""

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await service.find_org(session, business_id, mode, org_id)
        return (await service.remove_member(session, org_id, member_id)).email

    err.print(f"removed {_run(data_dir, database_url, work)}")


@app.command("transfer")
def transfer(
    org_id: OrgId,
    member_id: Annotated[str, typer.Argument(help="The new owner, mem_…")],
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Transfer ownership; the old owner becomes an admin."""

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await service.find_org(session, business_id, mode, org_id)
        return (await service.transfer_ownership(session, org_id, member_id)).id

    err.print(f"{_run(data_dir, database_url, work)} now owns {org_id}")


@app.command("token-create")
def token_create(
    org_id: OrgId,
    member_id: Annotated[str, typer.Argument(help="Member id, mem_…")],
    business_id: BusinessId,
    name: Annotated[str, typer.Option(help="A label.")] = "cli",
    days: Annotated[int, typer.Option(min=1, max=366, help="Days until it expires.")] = 90,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a personal access token for a member; printed once."""

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, str]:
        await service.find_org(session, business_id, mode, org_id)
        member = await service.find_member(session, org_id, member_id)
        issued = await service.issue_token(
            session, ctx.vault, member.id, "personal", name, timedelta(days=days)
        )
        return {"id": issued.row.id, "token": issued.secret}

    typer.echo(json.dumps(_run(data_dir, database_url, work)))


@app.command("token-revoke")
def token_revoke(
    org_id: OrgId,
    token_id: Annotated[str, typer.Argument(help="Token id, tok_…")],
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a member token at once."""

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await service.find_org(session, business_id, mode, org_id)
        return (await service.revoke_token(session, org_id, token_id, member_id=None)).id

    err.print(f"revoked {_run(data_dir, database_url, work)}")


@app.command("key-create")
def key_create(
    org_id: OrgId,
    business_id: BusinessId,
    instance_name: Annotated[str | None, typer.Option(help="A label.")] = None,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an instance license key; printed once."""

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, str]:
        org = await service.find_org(session, business_id, mode, org_id)
        issued = await key_service.create(session, ctx.vault, org, instance_name, None)
        return {"id": issued.row.id, "licenseKey": issued.secret}

    typer.echo(json.dumps(_run(data_dir, database_url, work)))


@app.command("keys")
def keys(
    org_id: OrgId,
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the organisation's instance keys, masked."""

    async def work(ctx: AppContext, session: AsyncSession) -> list[list[str]]:
        await service.find_org(session, business_id, mode, org_id)
        return [
            [
                k.id,
                key_service.masked(k),
                k.instance_name or "",
                "revoked" if k.revoked_at else "active",
                k.last_seen_at.isoformat() if k.last_seen_at else "",
            ]
            for k in await key_repository.keys_of(session, org_id)
        ]

    table = Table("id", "key", "instance", "state", "last seen")
    for row in _run(data_dir, database_url, work):
        table.add_row(*row)
    Console(width=200).print(table)


@app.command("key-revoke")
def key_revoke(
    org_id: OrgId,
    key_id: Annotated[str, typer.Argument(help="Key id (a UUID).")],
    business_id: BusinessId,
    mode: Mode = "test",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an instance key at once."""

    async def work(ctx: AppContext, session: AsyncSession) -> str:
        await service.find_org(session, business_id, mode, org_id)
        return (await key_service.revoke(session, org_id, key_id)).id

    err.print(f"revoked {_run(data_dir, database_url, work)}")
