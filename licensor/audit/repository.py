"""The audit log's queries: appending through the chain head, and reading."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, text
from sqlalchemy.orm import Session

from licensor.audit import chain
from licensor.models import AuditChainHead, AuditEvent


def _named(template: str, names: Iterable[str]) -> str:
    return template.format(*(f":{n}" for n in names))


HEAD_INIT = text(_named(chain.HEAD_INIT, ("b", "m", "g")))
HEAD_TAKE = text(_named(chain.HEAD_TAKE, ("n", "b", "m")))
HEAD_SET = text(_named(chain.HEAD_SET, ("p", "h", "b", "m")))


def append(session: Session, drafts: list[chain.Draft]) -> None:
    """Chain and insert one business and mode's drafts (sync: runs in `before_commit`).

    The head's `UPDATE … RETURNING` takes its row lock and hands out the numbers; the
    first time for a business and mode the head row is created first.
    """
    first = drafts[0]
    key = {"b": first.business_id, "m": first.mode}
    taken = session.execute(HEAD_TAKE, {"n": len(drafts), **key}).first()
    if taken is None:
        session.execute(HEAD_INIT, {"g": chain.GENESIS, **key})
        taken = session.execute(HEAD_TAKE, {"n": len(drafts), **key}).one()
    seq, last_hash = int(taken[0]), str(taken[1])
    rows = chain.link(drafts, seq - len(drafts), last_hash)
    session.execute(insert(AuditEvent), rows)
    session.execute(HEAD_SET, {"p": rows[-1]["prev_hash"], "h": rows[-1]["hash"], **key})


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
