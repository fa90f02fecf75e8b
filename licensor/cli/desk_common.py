"""Shared plumbing of the license desk commands: tenant options, one transaction per
command, errors as `error CODE: message` on stderr with exit code 1, JSON on stdout."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.auth.dependencies import Principal
from licensor.business import service as business_service
from licensor.cli.common import apply_overrides, err, in_transaction
from licensor.kit.context import AppContext
from licensor.kit.errors import LicensorError
from licensor.kit.handlers import describe_validation_errors

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

BusinessId = Annotated[str, typer.Option("--business-id", help="Business id.")]
Mode = Annotated[str, typer.Option("--mode", help="test or live.")]


def fail(code: str, message: str) -> typer.Exit:
    err.print(f"error {code}: {message}", markup=False, highlight=False)
    return typer.Exit(code=1)


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise fail("VALIDATION_ERROR", describe_validation_errors(list(exc.errors()))) from exc


def run_as(
    business_id: str,
    mode: str,
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[AppContext, AsyncSession, Principal], Awaitable[T]],
) -> T:
    """Run `work` as the business (like an API key of that mode) in one transaction."""
    if mode not in ("test", "live"):
        raise fail("INVALID_MODE", "mode must be test or live")
    settings = apply_overrides(data_dir, database_url)
    who = Principal(business_id=business_id, mode=mode, api_key_id="cli")  # type: ignore[arg-type]

    async def scoped(ctx: AppContext, session: AsyncSession) -> T:
        await business_service.find_business(session, business_id)
        return await work(ctx, session, who)

    try:
        return in_transaction(settings, scoped)
    except LicensorError as exc:
        raise fail(exc.code, exc.message) from exc


def echo_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    typer.echo(json.dumps(value, indent=2))


def load_json_option(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise fail("VALIDATION_ERROR", f"{what} must be JSON") from exc
