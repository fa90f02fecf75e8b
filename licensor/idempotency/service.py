"""The rules of an idempotency key (Stripe's): one request per key, its answer replayed.

Functions take the session of a transaction their caller owns (`store.py`) and only
flush. A key is scoped to the API key's business and mode and kept `retention` (24 hours
by default) from its first use; a claim whose answer never came (its process died) may be
taken over once its `lease` has run out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.idempotency import repository
from licensor.idempotency.errors import (
    MAX_KEY_LENGTH,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from licensor.kit.idempotency import Answer, Claim
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.models import IdempotencyKey

KEY_PURPOSE = "idempotency_key"


@dataclass(frozen=True)
class Terms:
    lease: timedelta
    retention: timedelta


def check_key(key: str) -> str:
    """The key as sent, if it is one: 1 to 255 characters, no surrounding spaces counted."""
    key = key.strip()
    if not key:
        raise IdempotencyKeyInvalid("Idempotency-Key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            f"Idempotency-Key is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed"
        )
    return key


async def claim(
    session: AsyncSession,
    vault: Vault,
    principal: Principal,
    key_hash: bytes,
    fingerprint: bytes,
    terms: Terms,
    now: datetime,
) -> Claim | Answer:
    """Claim the key for this request, or the stored answer to replay; raises when the
    key was used for another request or its first request is still running."""
    await repository.prune(session, now)
    row_id, token = new_id("idk"), secrets.token_urlsafe(24)
    locked_until = now + terms.lease
    inserted = await repository.insert_claim(
        session,
        principal,
        row_id=row_id,
        key_hash=key_hash,
        fingerprint=fingerprint,
        token=token,
        now=now,
        locked_until=locked_until,
        expires_at=now + terms.retention,
    )
    if inserted:
        return Claim(row_id, token)
    row = await repository.get_locked(session, principal, key_hash)
    if row is None:  # pruned between the insert and the read: cannot happen in one transaction
        raise IdempotencyKeyInUse("this Idempotency-Key is being used by another request")
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different request (another route or body); "
            "send a new key for a new request"
        )
    if row.completed_at is not None:
        return stored_answer(vault, row)
    if row.locked_until > now:
        raise IdempotencyKeyInUse(
            "the first request with this Idempotency-Key is still running; retry later"
        )
    await repository.take_over(session, row, token, locked_until)
    return Claim(row.id, token)


def stored_answer(vault: Vault, row: IdempotencyKey) -> Answer:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.response_headers or []]
    body = vault.decrypt_bytes(row.response_body_encrypted or b"", bound_to=row.id)
    return Answer(row.status_code or 200, headers, body)


async def complete(
    session: AsyncSession, vault: Vault, claim: Claim, answer: Answer, now: datetime
) -> bool:
    """Store the answer; its body encrypted (it may hold a license key), bound to the row."""
    body = vault.encrypt_bytes(answer.body, bound_to=claim.row_id)
    return await repository.complete(session, claim.row_id, claim.token, answer, body, now)


async def release(session: AsyncSession, claim: Claim) -> None:
    await repository.release(session, claim.row_id, claim.token)
