"""Queries of the idempotency keys: claim, take over, store the answer, release, prune."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.idempotency import Answer
from licensor.kit.tenancy import Principal
from licensor.models import IdempotencyKey


async def prune(session: AsyncSession, now: datetime) -> None:
    """Delete every key past its retention (any business: the index is on `expires_at`)."""
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))


async def insert_claim(
    session: AsyncSession,
    principal: Principal,
    *,
    row_id: str,
    key_hash: bytes,
    fingerprint: bytes,
    token: str,
    now: datetime,
    locked_until: datetime,
    expires_at: datetime,
) -> bool:
    """Insert the claim unless the key already has a row (then False). On PostgreSQL a
    concurrent insert of the same key waits for the other transaction, then does nothing."""
    bind = session.get_bind()
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(IdempotencyKey)
        .values(
            id=row_id,
            business_id=principal.business_id,
            mode=principal.mode,
            key_hash=key_hash,
            fingerprint=fingerprint,
            lease_token=token,
            locked_until=locked_until,
            created_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["business_id", "mode", "key_hash"])
        .returning(IdempotencyKey.id)
    )
    return (await session.execute(statement)).first() is not None


async def get_locked(
    session: AsyncSession, principal: Principal, key_hash: bytes
) -> IdempotencyKey | None:
    """The key's row, locked for this transaction on PostgreSQL (SQLite: the write lock)."""
    row: IdempotencyKey | None = await session.scalar(
        select(IdempotencyKey)
        .where(
            IdempotencyKey.business_id == principal.business_id,
            IdempotencyKey.mode == principal.mode,
            IdempotencyKey.key_hash == key_hash,
        )
        .with_for_update()
    )
    return row


async def take_over(
    session: AsyncSession, row: IdempotencyKey, token: str, locked_until: datetime
) -> None:
    row.lease_token = token
    row.locked_until = locked_until
    await session.flush()


async def complete(
    session: AsyncSession, row_id: str, token: str, answer: Answer, body: bytes, now: datetime
) -> bool:
    """Store the answer (`body`: its body encrypted) if this claim still holds the row
    (False: its lease was taken)."""
    result = await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == row_id,
            IdempotencyKey.lease_token == token,
            IdempotencyKey.completed_at.is_(None),
        )
        .values(
            completed_at=now,
            status_code=answer.status,
            response_headers=[
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in answer.headers
            ],
            response_body_encrypted=body,
        )
        .returning(IdempotencyKey.id)
    )
    return result.first() is not None


async def release(session: AsyncSession, row_id: str, token: str) -> None:
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.id == row_id,
            IdempotencyKey.lease_token == token,
            IdempotencyKey.completed_at.is_(None),
        )
    )
