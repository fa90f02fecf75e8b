"""`licensor licenses …` (the support engineer's desk) and `licensor verify`.

A person runs these commands, so licenses they issue are staff-issued: customer,
subscription id and notes are required (see licensor/license_desk/service.py)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from licensor.cli import desk_cloud  # noqa: F401  (its commands join `subscriptions`)
from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    echo_json,
    fail,
    parse,
    parse_value,
    run_as,
)
from licensor.cli.desk_catalog import plans_app, subscriptions_app
from licensor.cli.groups import licenses_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor import verifier
    from licensor.auth.dependencies import Principal
    from licensor.kit.context import AppContext
    from licensor.license_desk.schemas import LicenseOut

LicenseId = Annotated[str, typer.Argument(help="License id (dlc_…).")]
Author = Annotated[str | None, typer.Option(help="Who issues it (default: your login name).")]
Opt = Annotated[str | None, typer.Option()]
Send = Annotated[
    bool,
    typer.Option("--send", help="Email the license file to the licensee (same transaction)."),
]


def _author(author: str | None) -> str:
    return author or f"cli:{getpass.getuser()}"


def register(app: typer.Typer) -> None:
    """Add the desk's commands to the main CLI."""
    app.add_typer(plans_app, name="plans")
    app.add_typer(subscriptions_app, name="subscriptions")
    app.add_typer(licenses_app, name="licenses")
    app.command("verify")(verify)


@licenses_app.command("create")
def licenses_create(
    business_id: BusinessId,
    license_type: Annotated[str | None, typer.Option(help="legacy or offline_cloud.")] = None,
    name: Opt = None,
    company: Opt = None,
    email: Opt = None,
    users_count: Annotated[int | None, typer.Option()] = None,
    plan_code: Opt = None,
    starts_at: Opt = None,
    expires_at: Opt = None,
    customer_id: Opt = None,
    subscription_id: Annotated[str | None, typer.Option(help="sub_… or billing id.")] = None,
    notes: Annotated[str | None, typer.Option(help="Why, and the ticket link.")] = None,
    author: Author = None,
    send_email: Send = False,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a legacy or offline cloud license; every missing field is named at once.
    With --send, its license file email is queued in the same transaction."""
    from licensor.license_desk import rules
    from licensor.license_desk import service as desk
    from licensor.license_desk.schemas import LicenseCreate

    fields = {k: v for k, v in locals().items() if k in LicenseCreate.model_fields}
    body = parse(LicenseCreate, {**fields, "author": _author(author)})

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> LicenseOut:
        issuer = rules.Issuer("staff", body.author or "")
        row = await desk.issue(session, ctx, who, body, issuer)
        return (await desk.to_out(session, ctx.vault, [row]))[0]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@licenses_app.command("get")
def licenses_get(
    license_id: LicenseId,
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a license with its notes."""
    from licensor.license_desk import service as desk

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> LicenseOut:
        row = await desk.get(session, who, license_id)
        return (await desk.to_out(session, ctx.vault, [row]))[0]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@licenses_app.command("list")
def licenses_list(
    business_id: BusinessId,
    customer_id: Opt = None,
    subscription_id: Annotated[str | None, typer.Option(help="Licensor sub_… id.")] = None,
    license_type: Opt = None,
    email: Annotated[str | None, typer.Option(help="Whole email or domain.")] = None,
    company: Annotated[str | None, typer.Option(help="Company (case-insensitive).")] = None,
    q: Annotated[str | None, typer.Option("--q", help="The search box (see the API).")] = None,
    trial: Annotated[bool | None, typer.Option("--trial/--no-trial", help="Trials.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List or search licenses, newest first (the route's filters, with its rules)."""
    from pydantic import StringConstraints, TypeAdapter

    from licensor.kit.pagination import PageParams
    from licensor.license_desk import search
    from licensor.license_desk import service as desk
    from licensor.license_desk.schemas import LicenseType

    an_id = TypeAdapter(Annotated[str, StringConstraints(max_length=64)] | None)
    customer = parse_value(an_id, customer_id, "customer_id")
    subscription = parse_value(an_id, subscription_id, "subscription_id")
    kind = parse_value(TypeAdapter(LicenseType | None), license_type, "license_type")

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> list[LicenseOut]:
        wanted = search.search_of(
            ctx.vault,
            customer_id=customer,
            subscription_id=subscription,
            license_type=kind,
            trial=trial,
            email=email,
            company=company,
            q=q,
        )
        page = PageParams(page_number=0, page_size=limit)
        rows = await search.list_page(session, who, page, wanted)
        return await desk.to_out(session, ctx.vault, rows)

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@licenses_app.command("file")
def licenses_file(
    license_id: LicenseId,
    business_id: BusinessId,
    encrypted: Annotated[bool, typer.Option(help="Encrypt under the license key.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print (or write) the signed license file."""
    from licensor.license_desk import licensefile
    from licensor.license_desk import service as desk

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> str:
        row = await desk.get(session, who, license_id)
        return await licensefile.license_file(session, ctx.vault, row, encrypt=encrypted)

    text = run_as(business_id, mode, data_dir, database_url, work)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


@licenses_app.command("duplicate")
def licenses_duplicate(
    license_id: LicenseId,
    business_id: BusinessId,
    notes: Annotated[str | None, typer.Option(help="Why, and the ticket link.")] = None,
    license_type: Opt = None,
    name: Opt = None,
    company: Opt = None,
    email: Opt = None,
    users_count: Annotated[int | None, typer.Option()] = None,
    plan_code: Opt = None,
    starts_at: Opt = None,
    expires_at: Opt = None,
    customer_id: Opt = None,
    subscription_id: Opt = None,
    use_customer_details: Annotated[
        bool, typer.Option(help="Take name, email and company from the customer.")
    ] = False,
    author: Author = None,
    send_email: Send = False,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-issue a legacy license with overrides; the licensee stays unless asked.
    With --send, the new license file email is queued in the same transaction."""
    from licensor.license_desk import rules
    from licensor.license_desk import service as desk
    from licensor.license_desk.schemas import LicenseDuplicate

    fields = {k: v for k, v in locals().items() if k in LicenseDuplicate.model_fields}
    body = parse(LicenseDuplicate, {**fields, "author": _author(author)})

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> LicenseOut:
        issuer = rules.Issuer("staff", body.author or "")
        row = await desk.duplicate(session, ctx, who, license_id, body, issuer)
        return (await desk.to_out(session, ctx.vault, [row]))[0]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


@licenses_app.command("note")
def licenses_note(
    license_id: LicenseId,
    text: Annotated[str, typer.Argument(help="The note.")],
    business_id: BusinessId,
    author: Author = None,
    mode: ModeOption = Mode.test,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a note to a license (the API's rules: not blank, at most 10,000 characters)."""
    from licensor.license_desk import service as desk
    from licensor.license_desk.schemas import NoteCreate

    body = parse(NoteCreate, {"text": text, "author": _author(author)})

    async def work(ctx: AppContext, session: AsyncSession, who: Principal) -> LicenseOut:
        row = await desk.get(session, who, license_id)
        await desk.add_note(session, row, body.author or _author(author), body.text)
        return (await desk.to_out(session, ctx.vault, [row]))[0]

    echo_json(run_as(business_id, mode, data_dir, database_url, work))


def verify(
    file: Annotated[Path, typer.Argument(help="The license file.", exists=True, dir_okay=False)],
    public_key: Annotated[
        list[Path],
        typer.Option(
            "--public-key", help="A JWKS (.json) or PEM file; repeat for more.", exists=True
        ),
    ],
    license_key: Annotated[
        str | None, typer.Option(help="For an encrypted file: its license key.")
    ] = None,
    grace_days: Annotated[int, typer.Option(min=0, help="Days accepted after expiry.")] = 0,
    mode: ModeOption = Mode.test,
    business_id: Annotated[
        str | None, typer.Option("--business-id", help="Refuse a file of another business.")
    ] = None,
    license_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Accept only this license type; repeat for more."),
    ] = None,
    instance_id: Annotated[
        str | None, typer.Option(help="Refuse a file bound to another instance id.")
    ] = None,
    fingerprint: Annotated[
        str | None, typer.Option(help="Refuse a file bound to another machine fingerprint.")
    ] = None,
    revocations: Annotated[
        Path | None,
        typer.Option(
            help="The business's revocation list (.json; needs --business-id).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    allow_unnamed_keys: Annotated[
        bool, typer.Option(help="Also try keys given without a kid (a bare PEM).")
    ] = False,
) -> None:
    """Verify a license file offline (a file of --mode, test by default) and print its
    payload as JSON."""
    from datetime import timedelta

    from licensor import verifier

    if revocations is not None and business_id is None:
        raise fail("VALIDATION_ERROR", "--revocations needs --business-id (the list's business)")
    keys: list[Any] = []
    try:
        for path in public_key:
            keys += verifier.load_public_keys(path.read_text())
        revoked = None
        if revocations is not None and business_id is not None:
            revoked = verifier.load_revocation_list(
                revocations.read_text(), keys, business_id=business_id, mode=mode.value
            )
        payload = verifier.verify_license_file(
            file.read_bytes(),
            keys,
            license_key=license_key,
            grace=timedelta(days=grace_days),
            business_id=business_id,
            mode=mode.value,
            license_types=license_type or None,
            instance_id=instance_id,
            fingerprint=fingerprint,
            revocations=revoked,
            allow_unnamed_keys=allow_unnamed_keys,
        )
    except verifier.VerificationError as exc:
        raise fail(_code_of(exc), str(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("UNREADABLE", str(exc)) from exc
    typer.echo(json.dumps(_plain(payload), indent=2, default=str))


def _code_of(exc: Exception) -> str:
    """MalformedFile -> MALFORMED_FILE: the house's code style for the verifier's errors."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).upper()


def _plain(payload: verifier.LicensePayload) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(payload)
