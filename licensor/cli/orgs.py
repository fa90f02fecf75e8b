"""`licensor orgs`: customer organisations' people, tokens and instance keys, as the vendor.

The operator acts for the vendor business: these commands need the database, not a
member's token. Secrets (invite tokens, personal tokens, license keys) print once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from licensor.cli.common import (
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    echo_json,
    group,
    parse,
    run,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.kit.context import AppContext
    from licensor.models import Customer
    from licensor.orgs.service import NewMember

T = TypeVar("T")

app = group("Customer organisations: members, tokens, self-hosted instance keys.")

OrgId = Annotated[str, typer.Argument(help="Organisation (customer) id, cus_…")]
MemberArg = Annotated[str, typer.Argument(help="Member id, mem_…")]
BusinessId = Annotated[str, typer.Option("--business-id", help="The vendor business id.")]


def _in_org(
    org_id: str,
    business_id: str,
    mode: Mode,
    data_dir: DataDir,
    database_url: DatabaseUrl,
    work: Callable[[AppContext, AsyncSession, Customer], Awaitable[T]],
) -> T:
    """The one run of an org command: `work` on the business's organisation, in one
    transaction (an unknown one is the service's error)."""
    from licensor.orgs import service

    async def in_org(ctx: AppContext, session: AsyncSession) -> T:
        org = await service.find_org(session, business_id, mode.value, org_id)
        return await work(ctx, session, org)

    return run(data_dir, database_url, in_org)


def _invite(done: NewMember) -> dict[str, Any]:
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
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add the organisation's first owner; prints a one-time invite token."""
    from licensor.orgs import service
    from licensor.orgs.schemas import OwnerCreate

    body = parse(OwnerCreate, {"email": email})

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> dict[str, Any]:
        return _invite(await service.add_owner(session, ctx.vault, org, body.email, None))

    typer.echo(json.dumps(_in_org(org_id, business_id, mode, data_dir, database_url, work)))


@app.command("add-member")
def add_member(
    org_id: OrgId,
    business_id: BusinessId,
    email: Annotated[str, typer.Option(help="The member's email.")],
    role: Annotated[str, typer.Option(help="admin or member.")] = "member",
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Invite a member; prints a one-time invite token."""
    from licensor.orgs import service
    from licensor.orgs.schemas import MemberCreate

    body = parse(MemberCreate, {"email": email, "role": role})

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> dict[str, Any]:
        done = await service.add_member(session, ctx.vault, org, body.email, body.role, None)
        return _invite(done)

    typer.echo(json.dumps(_in_org(org_id, business_id, mode, data_dir, database_url, work)))


@app.command("members")
def list_members(
    org_id: OrgId,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the organisation's members as JSON."""
    from licensor.orgs import repository

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> list[dict[str, str]]:
        rows = await repository.members(session, org_id)
        return [
            {
                "id": m.id,
                "email": m.email,
                "role": m.role,
                "status": "active" if m.password_hash else "invited",
            }
            for m in rows
        ]

    echo_json(_in_org(org_id, business_id, mode, data_dir, database_url, work))


@app.command("set-role")
def set_role(
    org_id: OrgId,
    member_id: MemberArg,
    role: Annotated[str, typer.Argument(help="admin or member.")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a member's role (the owner changes only by a transfer)."""
    from licensor.orgs import service
    from licensor.orgs.schemas import RoleUpdate

    body = parse(RoleUpdate, {"role": role})

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> str:
        return (await service.set_role(session, org_id, member_id, body.role)).role

    echo_json(
        {"id": member_id, "role": _in_org(org_id, business_id, mode, data_dir, database_url, work)}
    )


@app.command("remove-member")
def remove_member(
    org_id: OrgId,
    member_id: MemberArg,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a member (not the owner); their tokens stop working."""
    from licensor.orgs import service

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> str:
        return (await service.remove_member(session, org_id, member_id)).email

    echo_json(
        {
            "removed": member_id,
            "email": _in_org(org_id, business_id, mode, data_dir, database_url, work),
        }
    )


@app.command("transfer")
def transfer(
    org_id: OrgId,
    member_id: Annotated[str, typer.Argument(help="The new owner, mem_…")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Transfer ownership; the old owner becomes an admin."""
    from licensor.orgs import service

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> str:
        return (await service.transfer_ownership(session, org_id, member_id)).id

    echo_json(
        {
            "organization_id": org_id,
            "owner": _in_org(org_id, business_id, mode, data_dir, database_url, work),
        }
    )


@app.command("token-create")
def token_create(
    org_id: OrgId,
    member_id: MemberArg,
    business_id: BusinessId,
    name: Annotated[str, typer.Option(help="A label.")] = "cli",
    days: Annotated[int, typer.Option(help="Days until it expires (1 to 366).")] = 90,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a personal access token for a member; printed once."""
    from datetime import timedelta

    from licensor.orgs import service
    from licensor.orgs.schemas import TokenCreate

    body = parse(TokenCreate, {"name": name, "expires_in_days": days})

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> dict[str, str]:
        member = await service.find_member(session, org_id, member_id)
        ttl = timedelta(days=body.expires_in_days)
        issued = await service.issue_token(
            session, ctx.vault, member.id, "personal", body.name, ttl
        )
        return {"id": issued.row.id, "token": issued.secret}

    typer.echo(json.dumps(_in_org(org_id, business_id, mode, data_dir, database_url, work)))


@app.command("token-revoke")
def token_revoke(
    org_id: OrgId,
    token_id: Annotated[str, typer.Argument(help="Token id, tok_…")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a member token at once."""
    from licensor.orgs import service

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> str:
        return (await service.revoke_token(session, org_id, token_id, member_id=None)).id

    echo_json({"revoked": _in_org(org_id, business_id, mode, data_dir, database_url, work)})


@app.command("key-create")
def key_create(
    org_id: OrgId,
    business_id: BusinessId,
    instance_name: Annotated[str | None, typer.Option(help="A label.")] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an instance license key; printed once."""
    from licensor.instance_keys import service as key_service
    from licensor.instance_keys.schemas import KeyCreate

    body = parse(KeyCreate, {"instance_name": instance_name})

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> dict[str, str]:
        issued = await key_service.create(session, ctx.vault, org, body.instance_name, None)
        return {"id": issued.row.id, "licenseKey": issued.secret}

    typer.echo(json.dumps(_in_org(org_id, business_id, mode, data_dir, database_url, work)))


@app.command("keys")
def keys(
    org_id: OrgId,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the organisation's instance keys as JSON, masked."""
    from licensor.instance_keys import repository as key_repository
    from licensor.instance_keys import service as key_service

    async def work(
        ctx: AppContext, session: AsyncSession, org: Customer
    ) -> list[dict[str, str | None]]:
        return [
            {
                "id": k.id,
                "key": key_service.masked(k),
                "instance_name": k.instance_name,
                "state": "revoked" if k.revoked_at else "active",
                "last_seen_at": k.last_seen_at.isoformat() if k.last_seen_at else None,
            }
            for k in await key_repository.keys_of(session, org_id)
        ]

    echo_json(_in_org(org_id, business_id, mode, data_dir, database_url, work))


@app.command("key-revoke")
def key_revoke(
    org_id: OrgId,
    key_id: Annotated[str, typer.Argument(help="Key id (a UUID).")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an instance key at once."""
    from licensor.instance_keys import service as key_service

    async def work(ctx: AppContext, session: AsyncSession, org: Customer) -> str:
        return (await key_service.revoke(session, org_id, key_id)).id

    echo_json({"revoked": _in_org(org_id, business_id, mode, data_dir, database_url, work)})
