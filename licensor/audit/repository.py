"""The audit log's queries: appending unsealed, sealing through the chain head, reading."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from licensor.audit import chain
from licensor.models import AuditChainHead, AuditEvent


def _named(template: str, names: Iterable[str]) -> str:
    return template.format(*(f":{n}" for n in names))


HEAD_INIT = text(_named(chain.HEAD_INIT, ("b", "m", "g")))
HEAD_TAKE = text(_named(chain.HEAD_TAKE, ("n", "b", "m")))
HEAD_SET = text(_named(chain.HEAD_SET, ("s", "p", "h", "b", "m")))
SEAL_EVENT = text(_named(chain.SEAL_EVENT, ("seq", "prev_hash", "hash", "id")))
UNSEALED = AuditEvent.hash.is_(None)


def append(session: Session, drafts: list[chain.Draft]) -> None:
    """Insert drafts unsealed (sync: runs in `before_commit`); the sealer chains them."""
    session.execute(insert(AuditEvent), [chain.unsealed_row(d) for d in drafts])


HEAD_DROP_EMPTY = text(
    "DELETE FROM audit_chain_heads WHERE business_id = :b AND mode = :m AND seq = 0"
)


async def take_head(session: AsyncSession, business_id: str, mode: str) -> tuple[int, str] | None:
    """Lock the chain head for the rest of the transaction (its row lock on PostgreSQL,
    the writer lock on SQLite): the last sealed seq and hash. Created the first time
    (a concurrent sealer creating it too waits for it, then takes it). None when the
    head is missing or reset although sealed events exist (someone deleted it): sealing
    stops there, the head stays missing, and `verify` reports `head_missing`."""
    key = {"b": business_id, "m": mode}
    taken = (await session.execute(HEAD_TAKE, {"n": 0, **key})).first()
    if taken is None:
        await session.execute(HEAD_INIT, {"g": chain.GENESIS, **key})
        taken = (await session.execute(HEAD_TAKE, {"n": 0, **key})).one()
    if int(taken[0]) == 0:  # a new chain, unless sealed events say otherwise
        sealed = select(AuditEvent.id).where(
            AuditEvent.business_id == business_id,
            AuditEvent.mode == mode,
            AuditEvent.hash.is_not(None),
        )
        if (await session.execute(sealed.limit(1))).first() is not None:
            await session.execute(HEAD_DROP_EMPTY, key)
            return None
    return int(taken[0]), str(taken[1])


def unsealed_chains() -> Select[str, str]:
    return select(AuditEvent.business_id, AuditEvent.mode).where(UNSEALED).distinct()


def unsealed(business_id: str, mode: str, limit: int) -> Select[Any]:
    """The next events to seal, in the chain's order (the partial index's)."""
    return (
        select(*AuditEvent.__table__.columns)
        .where(AuditEvent.business_id == business_id, AuditEvent.mode == mode, UNSEALED)
        .order_by(AuditEvent.created_at, AuditEvent.id)
        .limit(limit)
    )


def count_unsealed(business_id: str, mode: str) -> Select[int]:
    return (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.business_id == business_id, AuditEvent.mode == mode, UNSEALED)
    )


async def seal(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Set the seal columns of chained rows; each only if still unsealed."""
    names = ("seq", "prev_hash", "hash", "id")
    await conn.execute(SEAL_EVENT, [{c: r[c] for c in names} for r in rows])


async def move_head(
    session: AsyncSession, business_id: str, mode: str, last: dict[str, Any]
) -> None:
    params = {"s": last["seq"], "p": last["prev_hash"], "h": last["hash"]}
    await session.execute(HEAD_SET, {**params, "b": business_id, "m": mode})


def events(business_id: str, mode: str) -> Select[AuditEvent]:
    return select(AuditEvent).where(AuditEvent.business_id == business_id, AuditEvent.mode == mode)


def filtered(
    business_id: str,
    mode: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    created_at_gte: datetime | None = None,
    created_at_lte: datetime | None = None,
) -> Select[AuditEvent]:
    stmt = events(business_id, mode)
    wanted: dict[Any, Any] = {
        AuditEvent.target_type: target_type,
        AuditEvent.target_id: target_id,
        AuditEvent.actor: actor,
        AuditEvent.action: action,
    }
    for column, value in wanted.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if created_at_gte is not None:
        stmt = stmt.where(AuditEvent.created_at >= created_at_gte)
    if created_at_lte is not None:
        stmt = stmt.where(AuditEvent.created_at <= created_at_lte)
    return stmt


def head(business_id: str, mode: str) -> Select[AuditChainHead]:
    return select(AuditChainHead).where(
        AuditChainHead.business_id == business_id, AuditChainHead.mode == mode
    )
