from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.db import Base


class HotVersion(Base):
    """A counter per row-cache topic (`license_key`, `instance_key`), moved by SQLite
    triggers (migration 1200) whenever a row a cache depends on changes: a process whose
    `PRAGMA data_version` moved reads these to know which caches to empty
    (kit/rowcache.py `DataVersion`), so a seat count or a last-seen write empties none.
    PostgreSQL has the table too (one schema) and notifies instead."""

    __tablename__ = "hot_versions"

    topic: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
