"""Appending to the audit log from the raw-SQL hot-path stores (activate, deactivate).

One plain INSERT of the unsealed event on the store's own connection, in the change's
transaction: no chain head read, locked or updated, no hash taken while the transaction
is open. The sealer (`sealer.py`) chains it shortly after.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from licensor.audit import chain
from licensor.kit.hotstore import render

SQLITE_INSERT = render(chain.INSERT_EVENT, "qmark")
POSTGRES_INSERT = render(chain.INSERT_EVENT, "numeric")


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_append(conn: sqlite3.Connection, draft: chain.Draft) -> None:
    """Insert `draft`, unsealed, in the open transaction of the SQLite writer connection."""
    conn.execute(SQLITE_INSERT, chain.draft_params(draft, _sqlite_time(draft.created_at)))


async def postgres_append(conn: Any, draft: chain.Draft) -> None:
    """Insert `draft`, unsealed, in the open transaction of an asyncpg connection."""
    await conn.execute(POSTGRES_INSERT, *chain.draft_params(draft, draft.created_at))
