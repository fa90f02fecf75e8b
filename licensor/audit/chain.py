"""The hash chain of the audit log, shared by the ORM path, the raw hot-path stores and
the sealer.

Each business and mode has one chain: events numbered `seq` = 1, 2, … and each event's
`hash` is SHA-256 over the canonical encoding of the event (`canonical`), which includes
the `prev_hash` of the one before (`GENESIS` for the first). A change's transaction
inserts its event unchained (`seq`, `prev_hash` and `hash` NULL: no lock shared with any
other writer); the sealer (`sealer.py`) chains a business and mode's unsealed events in
its own transaction, in one deterministic order (`created_at`, then `id`), holding the
chain head row (`audit_chain_heads`: the last sealed `seq` and `hash`) locked from its
first statement to its commit, so two sealers never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

GENESIS = "0" * 64
MASK = "****"
# Field names whose values are secrets: recorded masked, never in clear.
SECRET_WORDS = ("key", "code", "token", "secret", "password", "license_file", "signature")
NOT_SECRET = frozenset(
    {
        "license_key_id",
        "instance_key_id",
        "api_key_id",
        "signing_key_id",
        "key_id",
        "kid",
        "code_id",
        "activation_code_id",
        "token_id",
        "postal_code",
        "country_code",
        "plan_code",
        "status_code",
        "key_prefix",
    }
)

HEAD_INIT = (
    "INSERT INTO audit_chain_heads (business_id, mode, seq, prev_hash, hash) "
    "VALUES ({0}, {1}, 0, {2}, {2}) ON CONFLICT DO NOTHING"
)
HEAD_TAKE = (
    "UPDATE audit_chain_heads SET seq = seq + {0} WHERE business_id = {1} AND mode = {2} "
    "RETURNING seq, hash"
)
HEAD_SET = (
    "UPDATE audit_chain_heads SET seq = {0}, prev_hash = {1}, hash = {2} "
    "WHERE business_id = {3} AND mode = {4}"
)
# The one UPDATE the append-only triggers let through: an unsealed event's seal, once.
SEAL_EVENT = (
    "UPDATE audit_events SET seq = {0}, prev_hash = {1}, hash = {2} WHERE id = {3} AND hash IS NULL"
)
INSERT_EVENT = (
    "INSERT INTO audit_events (id, business_id, mode, seq, created_at, actor, action, "
    "target_type, target_id, changes, note, request_id, client_address, prev_hash, hash) "
    "VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14})"
)

RAW_STATEMENTS = ("INSERT_EVENT",)


# Base32's characters in byte order, so that an id's text sorts as its number.
SORTED_BASE32 = "234567abcdefghijklmnopqrstuvwxyz"
_last_ns = 0


def event_id() -> str:
    """`aud_` and 24 base32 characters, like every id, but increasing within a process: a
    monotonic nanosecond clock, then 56 random bits. The sealer chains in (`created_at`,
    `id`) order, so events recorded at one timestamp (an activation's reaped seat and its
    own event) keep the order they were recorded in."""
    global _last_ns
    _last_ns = now = max(time.time_ns(), _last_ns + 1)
    value = (now << 56) | int.from_bytes(os.urandom(7), "big")
    return "aud_" + "".join(SORTED_BASE32[(value >> (5 * i)) & 31] for i in range(23, -1, -1))


def is_secret(field: str, public: tuple[str, ...] = ()) -> bool:
    name = field.lower()
    if name in NOT_SECRET or name in public:
        return False
    return any(word in name for word in SECRET_WORDS)


def mask(value: object) -> str | None:
    """A secret as the audit log shows it: `****` and, for a long one, its last 4."""
    if value is None:
        return None
    text = str(value)
    return MASK + text[-4:] if len(text) >= 16 else MASK


def plain(value: object) -> Any:
    """A value as JSON holds it (and as the hash reads it): datetimes as UTC ISO text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def change(field: str, old: object, new: object, public: tuple[str, ...] = ()) -> dict[str, Any]:
    if is_secret(field, public):
        return {"old": mask(old), "new": mask(new)}
    return {"old": plain(old), "new": plain(new)}


def changes_of(
    pairs: Mapping[str, tuple[object, object]], public: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`{field: (old, new)}` as recorded: only fields that changed, secrets masked
    (`public` names fields that look like secrets but are not, such as a plan's code)."""
    return {f: change(f, o, n, public) for f, (o, n) in pairs.items() if plain(o) != plain(n)}


def created(fields: Mapping[str, object], public: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a new row, each from None to its value (secrets masked)."""
    return changes_of({f: (None, v) for f, v in fields.items() if v is not None}, public)


def removed(fields: Mapping[str, object], public: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a deleted row, each from its value to None."""
    return changes_of({f: (v, None) for f, v in fields.items() if v is not None}, public)


@dataclass(frozen=True, slots=True)
class Draft:
    """An event before it is sealed: everything but `seq`, `prev_hash` and `hash`."""

    id: str
    business_id: str
    mode: str
    created_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    changes: dict[str, Any]
    note: str | None
    request_id: str | None
    client_address: str | None


def time_text(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash is taken over: `prev_hash`, a newline, `seq` in decimal,
    a newline, and the JSON object of every other field but `hash` (keys sorted, no
    whitespace)."""
    return f"{fields['prev_hash']}\n{int(fields['seq'])}\n".encode() + body_json(fields)


def body_json(fields: Mapping[str, Any]) -> bytes:
    body = {
        "id": fields["id"],
        "business_id": fields["business_id"],
        "mode": fields["mode"],
        "created_at": time_text(fields["created_at"]),
        "actor": fields["actor"],
        "action": fields["action"],
        "target_type": fields["target_type"],
        "target_id": fields["target_id"],
        "changes": fields["changes"],
        "note": fields["note"],
        "request_id": fields["request_id"],
        "client_address": fields["client_address"],
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def event_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def link(drafts: list[Draft], last_seq: int, last_hash: str) -> list[dict[str, Any]]:
    """Chain `drafts` after the event (`last_seq`, `last_hash`): the rows to insert."""
    rows: list[dict[str, Any]] = []
    prev = last_hash
    for n, draft in enumerate(drafts, start=last_seq + 1):
        row = {
            "id": draft.id,
            "business_id": draft.business_id,
            "mode": draft.mode,
            "seq": n,
            "created_at": draft.created_at,
            "actor": draft.actor,
            "action": draft.action,
            "target_type": draft.target_type,
            "target_id": draft.target_id,
            "changes": draft.changes,
            "note": draft.note,
            "request_id": draft.request_id,
            "client_address": draft.client_address,
            "prev_hash": prev,
        }
        row["hash"] = prev = event_hash(row)
        rows.append(row)
    return rows


def unsealed_row(draft: Draft) -> dict[str, Any]:
    """The row of an event as its change's transaction inserts it: not chained yet."""
    row: dict[str, Any] = {name: getattr(draft, name) for name in Draft.__slots__}
    return {**row, "seq": None, "prev_hash": None, "hash": None}


def draft_params(draft: Draft, time_value: Any) -> tuple[Any, ...]:
    """`INSERT_EVENT`'s parameters for a raw-SQL store: unsealed (`changes` as JSON text)."""
    return (
        draft.id,
        draft.business_id,
        draft.mode,
        None,
        time_value,
        draft.actor,
        draft.action,
        draft.target_type,
        draft.target_id,
        orjson.dumps(draft.changes).decode(),
        draft.note,
        draft.request_id,
        draft.client_address,
        None,
        None,
    )
