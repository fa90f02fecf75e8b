"""Activation codes: 24 characters shown to the customer, kept only as an HMAC (for
lookup) and AES-GCM encrypted (to show again). One live code per subscription;
regenerating revokes the previous one, which then answers ACTIVATION_CODE_REVOKED."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.models import ActivationCode, Subscription
from licensor.subscription import repository
from licensor.subscription.errors import SubscriptionCancelled
from licensor.webhooks import events

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by people
LENGTH = 24
PURPOSE = "activation_code"


def normalize(code: str) -> str:
    return code.strip().upper()


def lookup_hash(vault: Vault, code: str) -> bytes:
    return vault.lookup_hash(normalize(code), PURPOSE)


async def find(session: AsyncSession, vault: Vault, code: str) -> ActivationCode | None:
    """The code as typed (any case, spaces around), live or revoked; None when unknown."""
    return await repository.code_by_hash(session, lookup_hash(vault, code))


async def live(session: AsyncSession, subscription_id: str) -> ActivationCode | None:
    """The subscription's one live code, if it has one."""
    return await repository.live_code(session, subscription_id)


async def issue(
    session: AsyncSession, vault: Vault, sub: Subscription
) -> tuple[str, ActivationCode]:
    """A new live code for the subscription (the previous one, if any, is revoked)."""
    if sub.seat_reconciliation is None:
        raise Unprocessable(
            f"subscription {sub.id} is not cloud-license compatible (no seat reconciliation)",
            code="SUBSCRIPTION_NOT_CLOUD_COMPATIBLE",
        )
    if sub.cancelled_at is not None:
        raise SubscriptionCancelled(f"subscription {sub.id} is cancelled")
    await session.refresh(sub, with_for_update=True)  # one live code, even when concurrent
    await revoke(session, sub)
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    row_id = new_id("act")
    row = ActivationCode(
        id=row_id,
        business_id=sub.business_id,
        mode=sub.mode,
        subscription_id=sub.id,
        code_hash=lookup_hash(vault, code),
        code_encrypted=vault.encrypt(code, row_id),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await events.emit(session, sub.business_id, sub.mode, events.CODE_CREATED, code_data(row, code))
    audit.creation(
        session,
        row,
        "activation_code.created",
        ("subscription_id",),
        extra={"code": code},
    )
    return code, row


def code_data(row: ActivationCode, code: str | None) -> dict[str, object]:
    """An activation code's webhook payload (the code itself only when it is created)."""
    data: dict[str, object] = {
        "id": row.id,
        "subscription_id": row.subscription_id,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
    if code is not None:
        data["code"] = code
    return data


async def revoke(session: AsyncSession, sub: Subscription) -> bool:
    live = await repository.live_code(session, sub.id)
    if live is None:
        return False
    live.revoked_at = utcnow()
    await session.flush()
    await events.emit(
        session, sub.business_id, sub.mode, events.CODE_REVOKED, code_data(live, None)
    )
    audit.event(
        session,
        live,
        "activation_code.revoked",
        audit.changes_of({"revoked_at": (None, live.revoked_at)}),
    )
    return True


async def ensure_for_cloud(session: AsyncSession, vault: Vault, sub: Subscription) -> None:
    """Cloud licensing `Yes` means the customer gets an activation code."""
    if (
        sub.cloud_licensing == "Yes"
        and sub.seat_reconciliation is not None
        and sub.cancelled_at is None
        and await repository.live_code(session, sub.id) is None
    ):
        await issue(session, vault, sub)


async def show(
    session: AsyncSession, vault: Vault, sub: Subscription
) -> tuple[str, ActivationCode]:
    live = await repository.live_code(session, sub.id)
    if live is None:
        raise NotFound(
            f"subscription {sub.id} has no activation code", code="ACTIVATION_CODE_NOT_FOUND"
        )
    return vault.decrypt(live.code_encrypted, live.id), live
