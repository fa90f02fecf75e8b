"""Ed25519 signing keys per business and mode: key ids, states, rotation, JWKS.

A key is `active` (the one that signs), `retired` (signs nothing, still published so
what it signed verifies) or `revoked` (gone from the JWKS, listed in the revocation
list). A business and mode has exactly one active key once it has any:

- `rotate` makes a new active key and retires the previous one;
- `retire(kid)` applies to the active key only, and is a rotation;
- `revoke(kid)` of a retired key revokes it; of the active key, it revokes it and makes
  its replacement in the same transaction, so signing never stops.

A business's first keys are made when it is bootstrapped (`ensure_keys`); a business
created before that gets its key from its first signature (an authenticated write) or
`licensor signing-keys rotate`, never from a GET. Every change is serialised per
business (a row lock on PostgreSQL; SQLite runs write transactions one at a time) and
the partial unique index `uq_signing_keys_one_active` backs the rule. Services only flush.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor import verifier as fmt
from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.models import Business, SigningKey
from licensor.signing.errors import InvalidTransition, SigningKeyNotFound
from licensor.signing.schemas import SigningKeyChange, SigningKeyOut

ALGORITHM = "Ed25519"
JWS_ALG = "EdDSA"  # the `alg` of signed answers and revocation lists (RFC 8037)
ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"


@dataclass(frozen=True)
class Signature:
    kid: str
    alg: str
    signature: bytes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@lru_cache(maxsize=256)
def _private_key(kid: str, raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


async def list_keys(session: AsyncSession, business_id: str, mode: str) -> list[SigningKey]:
    """Every key of the business and mode, revoked ones included: active first, then newest."""
    stmt = (
        select(SigningKey)
        .where(SigningKey.business_id == business_id, SigningKey.mode == mode)
        .order_by(
            case((SigningKey.state == ACTIVE, 0), else_=1),
            SigningKey.created_at.desc(),
            SigningKey.kid.desc(),
        )
    )
    return list((await session.scalars(stmt)).all())


async def active_key(session: AsyncSession, business_id: str, mode: str) -> SigningKey | None:
    stmt = select(SigningKey).where(
        SigningKey.business_id == business_id,
        SigningKey.mode == mode,
        SigningKey.state == ACTIVE,
    )
    return (await session.scalars(stmt)).first()


async def _lock(session: AsyncSession, business_id: str) -> None:
    """One key change per business at a time (PostgreSQL; SQLite's writers queue anyway).
    `FOR NO KEY UPDATE`: it does not block the foreign-key checks of rows that reference
    the business (an audit event's insert among them, while its chain head is locked)."""
    stmt = select(Business.id).where(Business.id == business_id).with_for_update(key_share=True)
    await session.execute(stmt)


async def _create(session: AsyncSession, vault: Vault, business_id: str, mode: str) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    kid = new_id("sig")
    raw = private.private_bytes_raw()
    row = SigningKey(
        kid=kid,
        business_id=business_id,
        mode=mode,
        algorithm=ALGORITHM,
        state=ACTIVE,
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        private_key_encrypted=vault.encrypt(base64.b64encode(raw).decode(), kid),
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        business_id=business_id,
        mode=mode,
        action="signing_key.created",
        target_type="signing_key",
        target_id=kid,
        changes=audit.created({"kid": kid, "algorithm": ALGORITHM, "state": ACTIVE}),
    )
    return row


async def _move(
    session: AsyncSession, key: SigningKey, state: str, now: datetime, note: str | None = None
) -> None:
    """Set `key`'s state (and its timestamp), record it, and flush: the active key leaves
    its state before a new one takes it (the unique index)."""
    old = key.state
    key.state = state
    if state == RETIRED:
        key.retired_at = now
    else:
        key.revoked_at = now
    await session.flush()
    audit.record(
        session,
        business_id=key.business_id,
        mode=key.mode,
        action=f"signing_key.{state}",
        target_type="signing_key",
        target_id=key.kid,
        changes=audit.changes_of({"state": (old, state)}),
        note=note,
    )


async def rotate(session: AsyncSession, vault: Vault, business_id: str, mode: str) -> SigningKey:
    """A new active key; the previous active key is retired (it stays in the JWKS)."""
    await _lock(session, business_id)
    previous = await active_key(session, business_id, mode)
    if previous is not None:
        await _move(session, previous, RETIRED, utcnow(), note="rotated")
    return await _create(session, vault, business_id, mode)


async def current_key(
    session: AsyncSession, vault: Vault, business_id: str, mode: str
) -> SigningKey:
    """The active key, made on first use (a business created before bootstrap made keys)."""
    key = await active_key(session, business_id, mode)
    if key is not None:
        return key
    await _lock(session, business_id)
    key = await active_key(session, business_id, mode)  # a concurrent first signature's
    return key if key is not None else await _create(session, vault, business_id, mode)


async def ensure_keys(session: AsyncSession, vault: Vault, business_id: str) -> None:
    """An active key for each mode that has none (bootstrap)."""
    for mode in ("test", "live"):
        await current_key(session, vault, business_id, mode)


async def find_key(session: AsyncSession, business_id: str, mode: str, kid: str) -> SigningKey:
    row = await session.get(SigningKey, kid) if len(kid) <= 40 else None
    if row is None or row.business_id != business_id or row.mode != mode:
        raise SigningKeyNotFound(f"signing key {kid} not found")
    return row


async def retire(
    session: AsyncSession, vault: Vault, business_id: str, mode: str, kid: str
) -> tuple[SigningKey, SigningKey]:
    """Retire the active key `kid`: a rotation that names the key it retires. Any other
    key is refused (a retired one already is; a revoked one cannot come back)."""
    await _lock(session, business_id)
    key = await find_key(session, business_id, mode, kid)
    if key.state != ACTIVE:
        raise InvalidTransition(
            f"signing key {kid} is {key.state}: only the active key can be retired"
        )
    await _move(session, key, RETIRED, utcnow(), note="retired by request")
    return key, await _create(session, vault, business_id, mode)


async def revoke(
    session: AsyncSession, vault: Vault, business_id: str, mode: str, kid: str
) -> tuple[SigningKey, SigningKey | None]:
    """Revoke `kid` (active or retired); the active key is replaced in the same
    transaction. A revoked key leaves the JWKS and enters the revocation list."""
    await _lock(session, business_id)
    key = await find_key(session, business_id, mode, kid)
    if key.state == REVOKED:
        raise InvalidTransition(f"signing key {kid} is already revoked")
    was_active = key.state == ACTIVE
    note = "the active key: a new active key replaces it" if was_active else None
    await _move(session, key, REVOKED, utcnow(), note=note)
    replacement = await _create(session, vault, business_id, mode) if was_active else None
    return key, replacement


async def revoked_kids(session: AsyncSession, business_id: str, mode: str) -> list[str]:
    stmt = (
        select(SigningKey.kid)
        .where(
            SigningKey.business_id == business_id,
            SigningKey.mode == mode,
            SigningKey.state == REVOKED,
        )
        .order_by(SigningKey.kid)
    )
    return list((await session.scalars(stmt)).all())


def sign_with(vault: Vault, key: SigningKey, message: bytes) -> Signature:
    raw = base64.b64decode(vault.decrypt(key.private_key_encrypted, key.kid))
    return Signature(key.kid, key.algorithm, _private_key(key.kid, raw).sign(message))


async def sign(
    session: AsyncSession, vault: Vault, business_id: str, mode: str, message: bytes
) -> Signature:
    """Sign with the business's active key for this mode (made on first use)."""
    return sign_with(vault, await current_key(session, vault, business_id, mode), message)


def signed_statement(
    vault: Vault, key: SigningKey, prefix: bytes, statement: dict[str, Any]
) -> dict[str, str]:
    """`{kid, alg, signature}` over `prefix || canonical JSON of statement`
    (the verifier's `canonical_json`, so the writer and the reader cannot drift)."""
    signature = sign_with(vault, key, prefix + fmt.canonical_json(statement)).signature
    return {"kid": key.kid, "alg": JWS_ALG, "signature": b64url(signature)}


def jwk(key: SigningKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": key.kid,
        "x": b64url(key.public_key),
    }


def published(keys: list[SigningKey]) -> list[SigningKey]:
    """The keys a verifier may trust: the active and retired ones (never a revoked one)."""
    return [k for k in keys if k.state != REVOKED]


def jwks(keys: list[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """A JWKS document (RFC 8037 OKP keys) of the published keys; the active one first."""
    return {"keys": [jwk(k) for k in published(keys)]}


def public_pem(key: SigningKey) -> str:
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def to_out(key: SigningKey) -> SigningKeyOut:
    return SigningKeyOut(
        kid=key.kid,
        algorithm=key.algorithm,
        state=key.state,
        created_at=key.created_at,
        retired_at=key.retired_at,
        revoked_at=key.revoked_at,
        public_key=b64url(key.public_key),
    )


def to_change(key: SigningKey, replacement: SigningKey | None) -> SigningKeyChange:
    return SigningKeyChange(
        **to_out(key).model_dump(), replaced_by=None if replacement is None else replacement.kid
    )
