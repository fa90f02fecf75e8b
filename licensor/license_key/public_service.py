"""The rules of the public license routes, shared by the thin ASGI path and the FastAPI routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from licensor.customer.schemas import CustomerBrief
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.origin import Origin
from licensor.kit.secrets import Vault, constant_time_equal
from licensor.kit.tenancy import Mode
from licensor.license_key.errors import LicenseKeyNotFound
from licensor.license_key.hot_sql import Claim, Details, KeyRow
from licensor.license_key.keys import LOOKUP_PURPOSE
from licensor.license_key.machines import Verdict, term_of, without_seat
from licensor.license_key.public_schemas import (
    ActivateIn,
    ActivateOut,
    DeactivateIn,
    HeartbeatIn,
    HeartbeatOut,
    ProductBrief,
    PublicCheck,
    ValidateIn,
)
from licensor.license_key.public_signed import UNSIGNED_INVALID, AnswerSigner, signed_answer
from licensor.license_key.store import LicenseStore
from licensor.product.policy import fingerprint_key

INSTANCE_NOT_FOUND = "LICENSE_KEY_INSTANCE_NOT_FOUND"


class LicenseChecks:
    """The public checks of one face: every answer is about a key of this mode (and, when
    the caller pins one, of this product); any other key is as unknown as a missing one."""

    def __init__(self, store: LicenseStore, vault: Vault, signer: AnswerSigner) -> None:
        self.store = store
        self.vault = vault
        self.signer = signer

    async def _find(
        self, license_key: str, mode: Mode, product_id: str | None, primary: bool = False
    ) -> KeyRow | None:
        """`primary`: the key row from the primary (before a write); else from the replica
        when one is configured (validate: it may lag the primary by a moment)."""
        digest = self.vault.lookup_hash(license_key, LOOKUP_PURPOSE)
        row = await self.store.find_key(digest, primary)
        return row if _ours(row, digest, mode, product_id) else None

    async def _require(self, body: PublicCheck, mode: Mode) -> KeyRow:
        row = await self._find(body.license_key, mode, body.product_id, primary=True)
        if row is None:
            raise LicenseKeyNotFound("license key not found")
        return row

    async def validate(self, body: ValidateIn, mode: Mode) -> Verdict | None:
        instance_id = body.license_key_instance_id
        return await self.check(
            body.license_key, instance_id, mode, body.product_id, body.fingerprint
        )

    async def check(
        self,
        license_key: str,
        instance_id: str | None,
        mode: Mode,
        product_id: str | None = None,
        fingerprint: str | None = None,
    ) -> Verdict | None:
        """Is the key (and, when given, that instance or machine of it) valid now? None
        for an unknown key (`{"valid": false}`). Inputs already checked."""
        row = await self._find(license_key, mode, product_id)
        if row is None:
            return None
        return await self._verdict(row, instance_id, fingerprint, utcnow())

    async def _verdict(
        self, row: KeyRow, instance_id: str | None, fingerprint: str | None, now: datetime
    ) -> Verdict:
        term = term_of(row.disabled, row.expires_at, row.policy, now)
        if not term.valid or (instance_id is None and fingerprint is None):
            return term
        matched = None
        if fingerprint is not None:
            matched = fingerprint_key(fingerprint, row.policy.fingerprint_match)
        seat = await self.store.find_seat(row.id, instance_id, matched)
        if seat is None or not row.policy.holds(seat[1], now):
            return without_seat(term)
        return term

    def _usable(self, row: KeyRow, now: datetime) -> Verdict:
        """The key's verdict, when it may take or keep a seat: refused when disabled, or
        expired (or in grace under a policy whose grace is invalid)."""
        term = term_of(row.disabled, row.expires_at, row.policy, now)
        if term.state == "disabled":
            raise Unprocessable("this license key is disabled", code="LICENSE_KEY_DISABLED")
        if not term.valid:
            raise Unprocessable("this license key has expired", code="LICENSE_KEY_EXPIRED")
        return term

    async def signed_validate(self, body: ValidateIn, mode: Mode, nonce: str) -> dict[str, Any]:
        """The validate answer with its signed statement (public_signed.py); an unknown
        key's answer is `{"valid": false}` alone."""
        row = await self._find(body.license_key, mode, body.product_id)
        if row is None:
            return UNSIGNED_INVALID
        now = utcnow().replace(microsecond=0)
        instance_id = body.license_key_instance_id
        answer = await self._verdict(row, instance_id, body.fingerprint, now)
        return await signed_answer(
            self.signer,
            row,
            license_key=body.license_key,
            instance_id=instance_id,
            nonce=nonce,
            fingerprint=body.fingerprint,
            verdict=answer,
            now=now,
        )

    async def activate(self, body: ActivateIn, mode: Mode, origin: Origin) -> ActivateOut:
        """Activate; the audit event (actor: the key, `license_key:lic_…`, unless `origin`
        names one) is written in the activation's transaction. A fingerprint that holds a
        seat already answers that instance (no new seat, no event)."""
        digest = self.vault.lookup_hash(body.license_key, LOOKUP_PURPOSE)
        found = await self.store.find_seatable(digest)
        if found is None or not _ours(found[0], digest, mode, body.product_id):
            raise LicenseKeyNotFound("license key not found")
        row, details = found
        return await self.seat(row, body.name, body.fingerprint, origin, details=details)

    async def find_for_write(
        self, license_key: str, mode: Mode, product_id: str | None
    ) -> KeyRow | None:
        """The key row from the primary, as an activation finds it (None: unknown to the
        face, like a key that does not exist)."""
        return await self._find(license_key, mode, product_id, primary=True)

    async def seat(
        self,
        row: KeyRow,
        name: str,
        fingerprint_sent: str | None,
        origin: Origin,
        claim: Claim | None = None,
        details: Details | None = None,
    ) -> ActivateOut:
        """The activation rule, for `activate` and the air-gapped activation (`offline.py`,
        which passes its request as `claim`, taken in the same transaction): the key
        usable, the fingerprint matched as its product says, a seat within the limit.
        `details`: the customer and product as the key's row was read with (else read
        after the activation)."""
        now = utcnow()
        term = self._usable(row, now)
        fingerprint = None
        if fingerprint_sent is not None:
            fingerprint = fingerprint_key(fingerprint_sent, row.policy.fingerprint_match)
        done = await self.store.activate(row, new_id("lki"), name, fingerprint, now, origin, claim)
        if done is None:
            raise Unprocessable(
                "this license key has reached its activations limit",
                code="LICENSE_KEY_LIMIT_REACHED",
            )
        if details is None:
            details = await self.store.details(row.customer_id, row.product_id)
        if details is None:  # both rows are referenced by foreign keys
            raise LicenseKeyNotFound("license key not found")
        return ActivateOut(
            id=done.seat.id,
            business_id=row.business_id,
            created_at=done.seat.created_at,
            license_key_id=row.id,
            name=done.seat.name,
            customer=CustomerBrief(
                customer_id=details.customer_id,
                email=details.email,
                name=details.name,
                phone_number=details.phone_number,
                metadata=details.metadata,
            ),
            product=ProductBrief(product_id=details.product_id, name=details.product_name),
            fingerprint=done.seat.fingerprint,
            state=term.state,
            code=term.code,
        )

    async def heartbeat(self, body: HeartbeatIn, mode: Mode) -> HeartbeatOut:
        """The instance is alive: its seat is held for another interval plus grace. A seat
        already lost (silent too long, released, deactivated) is 404: activate again."""
        row = await self._require(body, mode)
        now = utcnow()
        term = self._usable(row, now)
        if not await self.store.heartbeat(row, body.license_key_instance_id, now):
            raise NotFound("no such instance for this license key", code=INSTANCE_NOT_FOUND)
        policy = row.policy
        return HeartbeatOut(
            id=body.license_key_instance_id,
            license_key_id=row.id,
            last_heartbeat_at=now,
            heartbeat_interval_seconds=policy.interval_seconds if policy.floating else None,
            seat_expires_at=now + policy.silence if policy.floating else None,
            state=term.state,
            code=term.code,
        )

    async def deactivate(self, body: DeactivateIn, mode: Mode, origin: Origin) -> None:
        row = await self._require(body, mode)
        if not await self.store.deactivate(row, body.license_key_instance_id, utcnow(), origin):
            raise NotFound("no such instance for this license key", code=INSTANCE_NOT_FOUND)


def _ours(row: KeyRow | None, digest: bytes, mode: Mode, product_id: str | None) -> bool:
    """The row is the key of that lookup hash, of this face's mode and, when the caller
    pins one, of that product: any other key is as unknown as a missing one."""
    if row is None or not constant_time_equal(row.key_hash, digest):
        return False
    return row.mode == mode and (product_id is None or row.product_id == product_id)
