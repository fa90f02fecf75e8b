"""Creating, listing and revoking instance keys. Services only flush.

A key is 64 lowercase hex characters (256 random bits). It is returned once; the
database keeps its HMAC lookup hash and its first and last four characters.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.instance_keys import repository
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound
from licensor.kit.ids import uuid7
from licensor.kit.secrets import Vault
from licensor.models import Customer, InstanceKey

KEY_PURPOSE = "instance_key"
SHOWN = 4  # characters kept at each end for the masked form


@dataclass(frozen=True)
class IssuedKey:
    row: InstanceKey
    secret: str  # shown once, never stored


def masked(row: InstanceKey) -> str:
    return f"{row.key_head}{'•' * 8}{row.key_tail}"


async def create(
    session: AsyncSession, vault: Vault, org: Customer, name: str | None, created_by: str | None
) -> IssuedKey:
    secret = secrets.token_hex(32)
    row = InstanceKey(
        id=str(uuid7()),
        business_id=org.business_id,
        mode=org.mode,
        customer_id=org.id,
        instance_name=name,
        key_hash=vault.lookup_hash(secret, KEY_PURPOSE),
        key_head=secret[:SHOWN],
        key_tail=secret[-SHOWN:],
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    fields = ("customer_id", "instance_name", "created_by")
    audit.creation(session, row, "instance_key.created", fields, extra={"key": masked(row)})
    return IssuedKey(row, secret)


async def find(session: AsyncSession, org_id: str, key_id: str) -> InstanceKey:
    row = await repository.key(session, org_id, key_id)
    if row is None:
        raise NotFound(f"instance key {key_id} not found", code="INSTANCE_KEY_NOT_FOUND")
    return row


async def revoke(session: AsyncSession, org_id: str, key_id: str) -> InstanceKey:
    """Revoke at once: the next check-in with this key is answered inactive."""
    row = await find(session, org_id, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        revoked = audit.changes_of({"revoked_at": (None, row.revoked_at)})
        audit.event(session, row, "instance_key.revoked", revoked)
    return row
