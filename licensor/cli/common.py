"""What every CLI command shares: the options, one error printer, one run helper.

- `--mode` is a choice of `test` or `live` and defaults to `test` for every command
  (test is where a vendor starts, like `bootstrap`; pass `--mode live` for live data).
- Errors go to stderr as one JSON line `{"code", "message"}`: exit code 1 for a
  `LicensorError` (the same code the API answers), 2 for a usage error (a bad flag).
- Output on stdout is JSON.
- A command runs its work in one transaction through `run` / `run_as`: open the context,
  commit on success, roll back on any error, close. A command that needs several (an
  import: one per batch) opens each with `transaction`.

This module, like every command module, imports no web stack or database engine at
import time: `licensor --help` stays fast. Domain modules are imported in command bodies.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter
    from sqlalchemy.ext.asyncio import AsyncSession

    from licensor.auth.dependencies import Principal
    from licensor.config import Settings
    from licensor.kit.context import AppContext

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")
V = TypeVar("V")

USAGE_EXIT = 2


class Mode(enum.StrEnum):
    test = "test"
    live = "live"


ModeOption = Annotated[
    Mode, typer.Option("--mode", help="test or live (every command defaults to test).")
]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (env LICENSOR_DATA_DIR).")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (env LICENSOR_DATABASE_URL)."),
]
BusinessId = Annotated[str, typer.Option("--business-id", help="Business id.")]


def group(help: str) -> typer.Typer:
    """A command group as every one is made: plain help text, its help when called bare."""
    return typer.Typer(rich_markup_mode=None, help=help, no_args_is_help=True)


def print_error(code: str, message: str) -> None:
    """The one error printer: one JSON line on stderr."""
    sys.stderr.write(json.dumps({"code": code, "message": message}) + "\n")
    sys.stderr.flush()


def fail(code: str, message: str) -> typer.Exit:
    """Print the error; raise the returned exit (code 1)."""
    print_error(code, message)
    return typer.Exit(code=1)


def echo_json(value: Any) -> None:
    """Print `value` (Pydantic models, lists of them, plain data) as JSON on stdout."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    typer.echo(json.dumps(value, indent=2, default=str))


def validation_message(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        from licensor.kit.handlers import describe_validation_errors

        return describe_validation_errors(list(exc.errors()))
    return str(exc)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate flags with the route's own input model: the API's rules and code."""
    from pydantic import ValidationError

    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise fail("VALIDATION_ERROR", validation_message(exc)) from exc


def parse_value(adapter: TypeAdapter[V], value: object, name: str) -> V:
    """Validate one flag with the type the route declares for it (a query parameter)."""
    from pydantic import ValidationError

    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        message = "; ".join(f"{name}: {e['msg']}" for e in exc.errors())
        raise fail("VALIDATION_ERROR", message) from exc


def apply_overrides(data_dir: Path | None, database_url: str | None) -> Settings:
    """Flags win over the environment; they are passed on to worker processes as env vars."""
    from licensor.config import get_settings

    if data_dir is not None:
        os.environ["LICENSOR_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        os.environ["LICENSOR_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    return get_settings()


def upgrade_database(settings: Settings) -> None:
    from licensor.kit import migrate

    migrate.upgrade(settings.resolved_database_url)


def cli_actor() -> str:
    """The audit log's actor for a CLI command: `cli:` and the OS user running it."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"cli:{user}"


@asynccontextmanager
async def transaction(ctx: AppContext) -> AsyncIterator[AsyncSession]:
    """One write transaction of a command, its origin bound: committed on leaving, rolled
    back on any error (a command that takes several, such as an import, opens each so)."""
    from licensor.kit.origin import Origin, bind

    async with ctx.db.write_sessions() as session, session.begin():
        bind(session, Origin(cli_actor()))
        yield session


def in_transaction(
    settings: Settings,
    work: Callable[[AppContext, AsyncSession], Awaitable[T]],
    *,
    read_only: bool = False,
) -> T:
    """Run `work` in one write transaction: commit on success, roll back on any error.
    `read_only`: in one read-only transaction instead (one snapshot), always rolled back."""
    import asyncio

    from licensor.kit.context import AppContext

    async def go() -> T:
        ctx = AppContext.from_settings(settings)
        try:
            if read_only:
                from licensor.kit.deps import reading

                async with reading(ctx.db) as session:
                    return await work(ctx, session)
            async with transaction(ctx) as session:
                return await work(ctx, session)
        finally:
            await ctx.close()

    return asyncio.run(go())


def run(
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[AppContext, AsyncSession], Awaitable[T]],
    *,
    settings: Settings | None = None,
    read_only: bool = False,
) -> T:
    """The one run helper: `work` in one transaction (`read_only`: a read-only one); its
    errors printed, exit code 1."""
    from pydantic import ValidationError

    from licensor.kit.errors import LicensorError

    try:
        settings = settings or apply_overrides(data_dir, database_url)
        return in_transaction(settings, work, read_only=read_only)
    except LicensorError as exc:
        raise fail(exc.code, exc.message) from exc
    except ValidationError as exc:
        raise fail("VALIDATION_ERROR", validation_message(exc)) from exc


def run_as(
    business_id: str,
    mode: Mode,
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[AppContext, AsyncSession, Principal], Awaitable[T]],
) -> T:
    """Run `work` as the business (like an API key of that mode) in one transaction."""
    from licensor.auth.dependencies import Principal
    from licensor.business import service as business_service

    who = Principal(business_id=business_id, mode=mode.value, api_key_id="cli")

    async def scoped(ctx: AppContext, session: AsyncSession) -> T:
        await business_service.find_business(session, business_id)
        return await work(ctx, session, who)

    return run(data_dir, database_url, scoped)


class CliGroup(TyperGroup):
    """The root command: usage errors go through the one error printer too (exit 2)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            value = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except typer.TyperException as exc:
            if not standalone_mode:
                raise
            if isinstance(exc, NoArgsIsHelpError):  # `licensor` alone: the help, as asked
                exc.show()
            else:
                print_error(_usage_code(exc), _usage_message(exc))
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            print_error("ABORTED", "aborted")
            sys.exit(1)
        if not standalone_mode:
            return value
        sys.exit(value if isinstance(value, int) else 0)


def _usage_code(exc: typer.TyperException) -> str:
    param = getattr(exc, "param", None)
    if isinstance(exc, typer.BadParameter) and param is not None and param.name == "mode":
        return "INVALID_MODE"
    return "USAGE_ERROR"


def _usage_message(exc: typer.TyperException) -> str:
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message
