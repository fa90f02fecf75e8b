"""Ed25519 signing keys per business and mode, with key ids and rotation.

A business's first keys are made when it is bootstrapped (`ensure_keys`); a business
created before that gets its key from its first signature (an authenticated write) or
`licensor signing-keys rotate`, never from a GET. `rotate` adds a new current key and keeps the old
ones published, so everything they signed still verifies. Services only flush.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.models import SigningKey

ALGORITHM = "Ed25519"


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
    stmt = (
        select(SigningKey)
        .where(SigningKey.business_id == business_id, SigningKey.mode == mode)
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    )
    return list((await session.scalars(stmt)).all())


async def rotate(session: AsyncSession, vault: Vault, business_id: str, mode: str) -> SigningKey:
    """Add a new key pair, which becomes the current one."""
    private = Ed25519PrivateKey.generate()
    kid = new_id("sig")
    raw = private.private_bytes_raw()
    row = SigningKey(
        kid=kid,
        business_id=business_id,
        mode=mode,
        algorithm=ALGORITHM,
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
        changes=audit.created({"kid": kid, "algorithm": ALGORITHM}),
    )
    return row


async def current_key(
    session: AsyncSession, vault: Vault, business_id: str, mode: str
) -> SigningKey:
    keys = await list_keys(session, business_id, mode)
    return keys[0] if keys else await rotate(session, vault, business_id, mode)


async def ensure_keys(session: AsyncSession, vault: Vault, business_id: str) -> None:
    """A current key for each mode that has none (bootstrap)."""
    for mode in ("test", "live"):
        if not await list_keys(session, business_id, mode):
            await rotate(session, vault, business_id, mode)


def sign_with(vault: Vault, key: SigningKey, message: bytes) -> Signature:
    raw = base64.b64decode(vault.decrypt(key.private_key_encrypted, key.kid))
    return Signature(key.kid, key.algorithm, _private_key(key.kid, raw).sign(message))


async def sign(
    session: AsyncSession, vault: Vault, business_id: str, mode: str, message: bytes
) -> Signature:
    """Sign with the business's current key for this mode (made on first use)."""
    return sign_with(vault, await current_key(session, vault, business_id, mode), message)


def jwk(key: SigningKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": key.kid,
        "x": b64url(key.public_key),
    }


def jwks(keys: list[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """A JWKS document (RFC 8037 OKP keys); the first key is the current one."""
    return {"keys": [jwk(k) for k in keys]}


def public_pem(key: SigningKey) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
