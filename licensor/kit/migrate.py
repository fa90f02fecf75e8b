"""Alembic, driven from code: `licensor db upgrade` and the test fixtures call this."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import Script

from licensor.kit.db import private_sqlite_file
from licensor.kit.errors import Conflict

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # YYYY_MM_DD_HHMM_<slug>.py, in UTC, like the files already there
    cfg.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    cfg.set_main_option("timezone", "UTC")
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


def current(url: str) -> None:
    command.current(alembic_config(url), verbose=False)


def revision(url: str, message: str, versions_dir: Path | None = None) -> Script:
    """Autogenerate a migration against the models; returns the script written. With
    `versions_dir`, the file goes there (the shipped versions are still read)."""
    cfg = alembic_config(url)
    if versions_dir is not None:
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option(
            "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(versions_dir)])
        )
    script = command.revision(
        cfg,
        message=message,
        autogenerate=True,
        version_path=str(versions_dir) if versions_dir is not None else None,
    )
    if not isinstance(script, Script):
        raise Conflict(
            "the migrations have several heads: merge them first", code="MIGRATION_HEADS"
        )
    return script
