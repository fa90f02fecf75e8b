"""`licensor staff`: the support console's accounts (per business; they see both modes).

`add` reads the password from standard input (one line; none for an SSO-only account
with `--sso-only`). Output is JSON; errors are the API's codes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    apply_overrides,
    echo_json,
    fail,
    parse,
    run,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.kit.context import AppContext

staff_app = typer.Typer(
    rich_markup_mode=None,
    help="Support console staff accounts: admin, support or read_only.",
    no_args_is_help=True,
)
StaffId = Annotated[str, typer.Argument(help="Staff member id, stf_…")]
RoleOption = Annotated[str, typer.Option("--role", help="admin, support or read_only.")]


def _read_password() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise fail(
            "VALIDATION_ERROR",
            "password: send it on standard input (or pass --sso-only for an SSO-only account)",
        )
    return password


@staff_app.command("add")
def add(
    business_id: BusinessId,
    email: Annotated[str, typer.Option("--email", help="The staff member's email.")],
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    sso_only: Annotated[
        bool, typer.Option("--sso-only", help="No password: signs in by single sign-on only.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a staff member; the password is read from standard input."""
    import asyncio

    from licensor.kit.passwords import Passwords
    from licensor.staff import service
    from licensor.staff.schemas import StaffCreate

    password = None if sso_only else _read_password()
    body = parse(StaffCreate, {"email": email, "name": name, "role": role, "password": password})
    settings = apply_overrides(data_dir, database_url)
    passwords = Passwords.of(settings)
    hashed = asyncio.run(passwords.hash(body.password)) if body.password else None

    async def work(ctx: AppContext, session: AsyncSession) -> Any:
        return service.staff_out(await service.add_staff(session, business_id, body, hashed))

    echo_json(run(data_dir, database_url, work, settings=settings))


@staff_app.command("list")
def list_(
    business_id: BusinessId, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """The business's staff members."""
    from licensor.business import service as business_service
    from licensor.staff import service

    async def work(ctx: AppContext, session: AsyncSession) -> Any:
        await business_service.find_business(session, business_id)
        return [service.staff_out(r) for r in await service.list_staff(session, business_id)]

    echo_json(run(data_dir, database_url, work))


@staff_app.command("set-role")
def set_role(
    staff_id: StaffId,
    business_id: BusinessId,
    role: RoleOption,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a staff member's role (their console sessions end)."""
    from licensor.staff import service
    from licensor.staff.schemas import RoleChange

    body = parse(RoleChange, {"role": role})

    async def work(ctx: AppContext, session: AsyncSession) -> Any:
        return service.staff_out(await service.set_role(session, business_id, staff_id, body.role))

    echo_json(run(data_dir, database_url, work))


@staff_app.command("remove")
def remove(
    staff_id: StaffId,
    business_id: BusinessId,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a staff member (their console sessions end)."""
    from licensor.staff import service

    async def work(ctx: AppContext, session: AsyncSession) -> Any:
        return service.staff_out(await service.remove_staff(session, business_id, staff_id))

    echo_json(run(data_dir, database_url, work))
