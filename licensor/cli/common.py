"""Plumbing for CLI commands: settings from flags, and one transaction per command."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.config import Settings, get_settings
from licensor.kit import migrate
from licensor.kit.context import AppContext

T = TypeVar("T")

err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (env LICENSOR_DATA_DIR).")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (env LICENSOR_DATABASE_URL)."),
]


def apply_overrides(data_dir: Path | None, database_url: str | None) -> Settings:
    """Flags win over the environment; they are passed on to worker processes as env vars."""
    if data_dir is not None:
        os.environ["LICENSOR_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        os.environ["LICENSOR_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    return get_settings()


def upgrade_database(settings: Settings) -> None:
    migrate.upgrade(settings.resolved_database_url)


def in_transaction(
    settings: Settings, work: Callable[[AppContext, AsyncSession], Awaitable[T]]
) -> T:
    """Run `work` in one write transaction: commit on success, roll back on any error."""

    async def run() -> T:
        ctx = AppContext.from_settings(settings)
        try:
            async with ctx.db.write_sessions() as session, session.begin():
                return await work(ctx, session)
        finally:
            await ctx.close()

    return asyncio.run(run())
