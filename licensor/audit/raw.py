"""Appending to the chain from the raw-SQL hot-path stores (activate, deactivate).

The same statements as the ORM path (`chain.py`), run on the store's own connection as
the last statements of its transaction: take the head (`UPDATE … RETURNING`, creating
it the first time), insert the event, set the head's hash.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from licensor.audit import chain
from licensor.kit.hotstore import render

SQLITE = {name: render(getattr(chain, name), "qmark") for name in chain.RAW_STATEMENTS}
POSTGRES = {name: render(getattr(chain, name), "numeric") for name in chain.RAW_STATEMENTS}
# One round trip for the event and the head's new hash ($15 is the event's hash).
POSTGRES_APPEND = (
    f"WITH event AS ({POSTGRES['INSERT_EVENT']} RETURNING id) "
    "UPDATE audit_chain_heads SET hash = $15 WHERE business_id = $2 AND mode = $3"
)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_append(conn: sqlite3.Connection, draft: chain.Draft) -> None:
    """Chain `draft` in the open transaction of the SQLite writer connection."""
    key = (draft.business_id, draft.mode)
    taken = conn.execute(SQLITE["HEAD_TAKE"], (1, *key)).fetchone()
    if taken is None:
        conn.execute(SQLITE["HEAD_INIT"], (*key, chain.GENESIS))
        taken = conn.execute(SQLITE["HEAD_TAKE"], (1, *key)).fetchone()
    (row,) = chain.link([draft], int(taken[0]) - 1, str(taken[1]))
    conn.execute(SQLITE["INSERT_EVENT"], chain.event_params(row, _sqlite_time(draft.created_at)))
    conn.execute(SQLITE["HEAD_SET"], (row["hash"], *key))


async def postgres_append(conn: Any, draft: chain.Draft) -> None:
    """Chain `draft` in the open transaction of an asyncpg connection."""
    key = (draft.business_id, draft.mode)
    taken = await conn.fetchrow(POSTGRES["HEAD_TAKE"], 1, *key)
    if taken is None:
        await conn.execute(POSTGRES["HEAD_INIT"], *key, chain.GENESIS)
        taken = await conn.fetchrow(POSTGRES["HEAD_TAKE"], 1, *key)
    (row,) = chain.link([draft], int(taken[0]) - 1, str(taken[1]))
    await conn.execute(POSTGRES_APPEND, *chain.event_params(row, draft.created_at))
