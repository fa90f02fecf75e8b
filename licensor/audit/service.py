"""The audit log: record a change in the transaction that makes it; read; verify.

A service calls `record(session, …)` next to the change. The event waits in the session
and is inserted, unsealed, by the session's `before_commit`: in the same transaction,
after every other statement; the sealer (`sealer.py`) chains it shortly after. A
rolled-back transaction records nothing. The actor, request id and client address come
from the session's `Origin` (`kit/origin.py`), bound by the transaction's owner; a
service may name a `system:<what>` actor itself (`actor=`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from licensor.audit import chain, repository, sealer
from licensor.audit.schemas import AuditEventOut
from licensor.audit.verify import ChainReport, check_stream
from licensor.kit.clock import utcnow
from licensor.kit.origin import UNKNOWN_ACTOR, actor_of, origin_of
from licensor.kit.pagination import PageParams, fetch_page
from licensor.models import AuditChainHead, AuditEvent

PENDING_KEY = "licensor.audit_pending"
LISTENING_KEY = "licensor.audit_listening"

__all__ = [
    "ChainReport",
    "change",
    "changes_of",
    "created",
    "creation",
    "diff",
    "event",
    "has_unsealed",
    "history",
    "list_page",
    "mask",
    "record",
    "removed",
    "seal_chain",
    "snapshot",
    "verify",
]

changes_of = chain.changes_of
seal_chain = sealer.seal_chain
mask = chain.mask
created = chain.created
removed = chain.removed


def snapshot(row: object, fields: tuple[str, ...]) -> dict[str, Any]:
    """The values of `fields` on `row` now, to compare after a change (`diff`). A field
    may be named `name=attribute` (the ORM's `metadata_` is recorded as `metadata`)."""
    out: dict[str, Any] = {}
    for f in fields:
        name, _, attr = f.partition("=")
        out[name] = getattr(row, attr or name)
    return out


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], public: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What changed between two snapshots, as recorded (secrets masked)."""
    return chain.changes_of({f: (old, after.get(f)) for f, old in before.items()}, public)


def creation(
    session: AsyncSession,
    row: Scoped,
    action: str,
    fields: tuple[str, ...],
    *,
    public: tuple[str, ...] = (),
    extra: Mapping[str, object] | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> None:
    """The event of a new row: `fields` (see `snapshot`) and `extra` from None to their values."""
    values = {**snapshot(row, fields), **(extra or {})}
    event(session, row, action, created(values, public), note=note, actor=actor)


def change(
    session: AsyncSession,
    row: Scoped,
    action: str,
    fields: tuple[str, ...],
    before: Mapping[str, Any],
    *,
    public: tuple[str, ...] = (),
    note: str | None = None,
    actor: str | None = None,
) -> bool:
    """The event of a changed row, when `snapshot(row, fields)` differs from `before`
    (or a note explains the change); whether any field changed."""
    changes = diff(before, snapshot(row, fields), public)
    if changes or note:
        event(session, row, action, changes, note=note, actor=actor)
    return bool(changes)


def record(
    session: AsyncSession,
    *,
    business_id: str,
    mode: str,
    action: str,
    target_type: str,
    target_id: str,
    changes: dict[str, Any] | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> None:
    """Put one event on the record of this transaction (written at its commit)."""
    origin = origin_of(session)
    draft = chain.Draft(
        id=chain.event_id(),
        business_id=business_id,
        mode=mode,
        created_at=utcnow(),
        actor=actor or (actor_of(origin) if origin is not None else UNKNOWN_ACTOR),
        action=action,
        target_type=target_type,
        target_id=target_id,
        changes=changes or {},
        note=note,
        request_id=origin.request_id if origin is not None else None,
        client_address=origin.client_address if origin is not None else None,
    )
    info = session.info
    pending: list[tuple[Any, chain.Draft]] | None = info.get(PENDING_KEY)
    if pending is None:
        pending = info[PENDING_KEY] = []
        if not info.get(LISTENING_KEY):
            info[LISTENING_KEY] = True
            sync = session.sync_session
            sa_event.listen(sync, "before_commit", _write)
            sa_event.listen(sync, "after_soft_rollback", _forget)
    # The savepoint it was recorded in (None: the transaction itself): an event recorded
    # in a savepoint that rolls back is dropped with it.
    pending.append((session.sync_session.get_nested_transaction(), draft))


class Scoped(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def business_id(self) -> str: ...
    @property
    def mode(self) -> str: ...


def event(
    session: AsyncSession,
    row: Scoped,
    action: str,
    changes: dict[str, Any] | None = None,
    *,
    note: str | None = None,
    actor: str | None = None,
) -> None:
    """`record` for a row of the business's: `action` is `<target type>.<verb>`."""
    record(
        session,
        business_id=row.business_id,
        mode=row.mode,
        action=action,
        target_type=action.partition(".")[0],
        target_id=row.id,
        changes=changes,
        note=note,
        actor=actor,
    )


def _write(session: Session) -> None:
    pending: list[tuple[Any, chain.Draft]] | None = session.info.pop(PENDING_KEY, None)
    if pending:
        repository.append(session, [draft for _, draft in pending])


def _within(savepoint: Any, ended: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


def _forget(session: Session, ended: SessionTransaction) -> None:
    """A rollback: the whole transaction's events go, or a savepoint's own."""
    pending: list[tuple[Any, chain.Draft]] | None = session.info.get(PENDING_KEY)
    if not pending:
        return
    if not ended.nested:
        session.info.pop(PENDING_KEY, None)
        return
    pending[:] = [(sp, d) for sp, d in pending if not _within(sp, ended)]


def to_out(row: AuditEvent) -> AuditEventOut:
    return AuditEventOut.model_validate(row, from_attributes=True)


async def list_page(
    session: AsyncSession,
    business_id: str,
    mode: str,
    page: PageParams,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    created_at_gte: datetime | None = None,
    created_at_lte: datetime | None = None,
) -> list[AuditEventOut]:
    """Events newest first, filtered (`GET /audit_events`, `licensor audit list`)."""
    stmt = repository.filtered(
        business_id,
        mode,
        target_type=target_type,
        target_id=target_id,
        actor=actor,
        action=action,
        created_at_gte=created_at_gte,
        created_at_lte=created_at_lte,
    ).order_by(*NEWEST_FIRST)
    return [to_out(row) for row in await fetch_page(session, stmt, page)]


async def history(
    session: AsyncSession,
    business_id: str,
    mode: str,
    target_type: str,
    target_id: str,
    *,
    limit: int = 100,
) -> list[AuditEventOut]:
    """One target's events, newest first (the console's license and subscription pages)."""
    stmt = (
        repository.filtered(business_id, mode, target_type=target_type, target_id=target_id)
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    return [to_out(row) for row in (await session.scalars(stmt)).all()]


async def has_unsealed(session: AsyncSession, business_id: str, mode: str) -> bool:
    """Whether a business and mode has events the sealer has not chained yet."""
    return bool(await session.scalar(repository.count_unsealed(business_id, mode)))


async def verify(
    session: AsyncSession, business_id: str, mode: str, *, seal: bool = True
) -> ChainReport:
    """Walk the sealed chain of a business and mode (sealing its unsealed events first in
    `session`'s write transaction, unless `seal=False`); the report names the first broken
    event and counts the events still unsealed.

    The head, the walk and the count must see one state of the chain: on PostgreSQL each
    statement of a write transaction reads what was committed at its own start, and a
    sealer committing between the walk and the count would report its events as neither
    sealed nor unsealed. `seal=False` takes a read-only transaction (`read_sessions`: one
    snapshot on both backends, REPEATABLE READ on PostgreSQL), so it locks nothing, never
    waits for a sealer and holds none up. Sealing holds the head's lock to the commit; the
    head is read `FOR SHARE` again. A chain with no head yet has no row to lock: if a head
    has appeared by the end, its first sealer committed meanwhile, and the walk is made
    again, under that head's lock."""
    if not seal:
        head = (await session.scalars(repository.head(business_id, mode))).first()
        report = await _walk(session, business_id, mode, head)
        waiting = await session.scalar(repository.count_unsealed(business_id, mode))
        return report.model_copy(update={"unsealed": int(waiting or 0)})
    await sealer.seal_chain(session, business_id, mode)
    held = repository.head(business_id, mode).with_for_update(read=True)
    while True:
        head = (await session.scalars(held)).first()
        report = await _walk(session, business_id, mode, head)
        waiting = await session.scalar(repository.count_unsealed(business_id, mode))
        if head is not None or (await session.scalars(held)).first() is None:
            return report.model_copy(update={"unsealed": int(waiting or 0)})


async def _walk(
    session: AsyncSession, business_id: str, mode: str, head: AuditChainHead | None
) -> ChainReport:
    stmt = repository.events(business_id, mode).where(AuditEvent.hash.is_not(None))
    stmt = stmt.order_by(AuditEvent.seq)
    result = await session.stream_scalars(stmt.execution_options(yield_per=1000))

    async def rows() -> AsyncIterator[dict[str, Any]]:
        async for row in result:
            yield {c: getattr(row, c) for c in EVENT_FIELDS}
            session.expunge(row)

    return await check_stream(
        business_id, mode, rows(), None if head is None else (head.seq, head.hash)
    )


# Unsealed events (no seq yet: the newest) first, then the chain from its end.
NEWEST_FIRST = (
    AuditEvent.seq.is_(None).desc(),
    AuditEvent.seq.desc(),
    AuditEvent.created_at.desc(),
    AuditEvent.id.desc(),
)
EVENT_FIELDS = tuple(c.key for c in AuditEvent.__table__.columns)
