"""Appending to the chain from the raw-SQL hot-path stores (activate, deactivate).

The same statements as the ORM path (`chain.py`), run on the store's own connection as
the last statements of its transaction: take the head (`UPDATE … RETURNING`, creating
it the first time), insert the event, set the head's hash.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson

from licensor.audit import chain
from licensor.kit.hotstore import render

SQLITE = {name: render(getattr(chain, name), "qmark") for name in chain.RAW_STATEMENTS}
POSTGRES = {name: render(getattr(chain, name), "numeric") for name in chain.RAW_STATEMENTS}
# PostgreSQL: one statement takes the head (its row lock, held until the commit), hashes
# the event in SQL over `canonical` (`prev_hash`, newline, `seq`, newline, the rest as
# JSON: $4) and inserts it. No event row when the head does not exist yet.
POSTGRES_APPEND = (
    "WITH head AS (UPDATE audit_chain_heads SET seq = seq + 1, prev_hash = hash, "
    "hash = encode(sha256(convert_to(hash || E'\\n' || (seq + 1)::text || E'\\n' || $4::text, "
    "'UTF8')), 'hex') WHERE business_id = $1 AND mode = $2 RETURNING seq, prev_hash, hash) "
    "INSERT INTO audit_events (id, business_id, mode, seq, created_at, actor, action, "
    "target_type, target_id, changes, note, request_id, client_address, prev_hash, hash) "
    "SELECT $3::text, $1::text, $2::text, seq, $5::timestamptz, $6::text, $7::text, "
    "$8::text, $9::text, $10::json, $11::text, $12::text, $13::text, prev_hash, hash "
    "FROM head RETURNING seq"
)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_append(conn: sqlite3.Connection, draft: chain.Draft) -> None:
    """Chain `draft` in the open transaction of the SQLite writer connection."""
    key = (draft.business_id, draft.mode)
    taken = conn.execute(SQLITE["HEAD_TAKE"], (1, *key)).fetchone()
    if taken is None:
        conn.execute(SQLITE["HEAD_INIT"], (*key, chain.GENESIS, chain.GENESIS))
        taken = conn.execute(SQLITE["HEAD_TAKE"], (1, *key)).fetchone()
    (row,) = chain.link([draft], int(taken[0]) - 1, str(taken[1]))
    conn.execute(SQLITE["INSERT_EVENT"], chain.event_params(row, _sqlite_time(draft.created_at)))
    conn.execute(SQLITE["HEAD_SET"], (row["prev_hash"], row["hash"], *key))


async def postgres_append(conn: Any, draft: chain.Draft) -> None:
    """Chain `draft` in the open transaction of an asyncpg connection: one round trip
    (two the first time for a business and mode, which creates the head)."""
    fields = {**_fields(draft), "prev_hash": "", "seq": 0}
    body = chain.body_json(fields).decode()
    changes = orjson.dumps(draft.changes).decode()
    params = (
        draft.business_id,
        draft.mode,
        draft.id,
        body,
        draft.created_at,
        draft.actor,
        draft.action,
        draft.target_type,
        draft.target_id,
        changes,
        draft.note,
        draft.request_id,
        draft.client_address,
    )
    if await conn.fetchval(POSTGRES_APPEND, *params) is None:
        await conn.execute(POSTGRES["HEAD_INIT"], draft.business_id, draft.mode, chain.GENESIS)
        await conn.fetchval(POSTGRES_APPEND, *params)


def _fields(draft: chain.Draft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in chain.Draft.__slots__}
