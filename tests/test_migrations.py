"""The migrations and the models agree, on SQLite and on PostgreSQL, and there is one head.

A fresh database upgraded to head is compared with `Base.metadata` by Alembic's autogenerate
(the comparison `licensor db revision` runs): no difference. (`licensor db revision` itself:
tests/test_db_revision.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import licensor.models  # noqa: F401  (registers every table)
from licensor.kit import migrate
from licensor.kit.db import Base
from tests.servers import fresh_postgres_database


@pytest.fixture
def database_url(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[str]:
    """An empty database of the backend, for this test alone."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'licensor.db'}"
        return
    if not _postgres_checked:
        pytest.skip("PostgreSQL not reachable")
    with ExitStack() as stack:
        yield stack.enter_context(fresh_postgres_database(at_head=False))


def differences(url: str) -> list[Any]:
    """What autogenerate would write for this database against the models."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
        )
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_there_is_exactly_one_head() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite://"))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()


def test_a_fresh_database_at_head_matches_the_models(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert differences(database_url) == []


def test_an_empty_database_differs_from_the_models(database_url: str) -> None:
    """The comparison sees tables at all: without the migrations every table is missing."""
    found = differences(database_url)
    added = {diff[1].name for diff in found if isinstance(diff, tuple) and diff[0] == "add_table"}
    assert added == set(Base.metadata.tables)
