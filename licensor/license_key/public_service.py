"""The rules of the public license routes, shared by the thin ASGI path and the FastAPI routes."""

from __future__ import annotations

from typing import Any

from licensor.customer.schemas import CustomerBrief
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.origin import Origin
from licensor.kit.secrets import Vault, constant_time_equal
from licensor.kit.tenancy import Mode
from licensor.license_key.errors import LicenseKeyNotFound
from licensor.license_key.keys import LOOKUP_PURPOSE, status_of
from licensor.license_key.public_schemas import (
    ActivateIn,
    ActivateOut,
    DeactivateIn,
    ProductBrief,
    PublicCheck,
    ValidateIn,
)
from licensor.license_key.public_signed import (
    UNSIGNED_INVALID,
    AnswerSigner,
    signed_answer,
    state_of,
)
from licensor.license_key.store import KeyRow, LicenseStore


class LicenseChecks:
    """The public checks of one face: every answer is about a key of this mode (and, when
    the caller pins one, of this product); any other key is as unknown as a missing one."""

    def __init__(self, store: LicenseStore, vault: Vault, signer: AnswerSigner) -> None:
        self.store = store
        self.vault = vault
        self.signer = signer

    async def _find(self, license_key: str, mode: Mode, product_id: str | None) -> KeyRow | None:
        digest = self.vault.lookup_hash(license_key, LOOKUP_PURPOSE)
        row = await self.store.find_key(digest)
        if row is None or not constant_time_equal(row.key_hash, digest):
            return None
        if row.mode != mode or (product_id is not None and row.product_id != product_id):
            return None
        return row

    async def _require(self, body: PublicCheck, mode: Mode) -> KeyRow:
        row = await self._find(body.license_key, mode, body.product_id)
        if row is None:
            raise LicenseKeyNotFound("license key not found")
        return row

    async def validate(self, body: ValidateIn, mode: Mode) -> bool:
        instance_id = body.license_key_instance_id
        return await self.check(body.license_key, instance_id, mode, body.product_id)

    async def check(
        self, license_key: str, instance_id: str | None, mode: Mode, product_id: str | None = None
    ) -> bool:
        """Is the key (and, when given, that instance of it) valid now? Inputs already checked."""
        row = await self._find(license_key, mode, product_id)
        if row is None or status_of(row.disabled, row.expires_at, utcnow()) != "active":
            return False
        if instance_id is None:
            return True
        return await self.store.has_instance(row.id, instance_id)

    async def signed_validate(self, body: ValidateIn, mode: Mode, nonce: str) -> dict[str, Any]:
        """The validate answer with its signed statement (public_signed.py); an unknown
        key's answer is `{"valid": false}` alone."""
        row = await self._find(body.license_key, mode, body.product_id)
        if row is None:
            return UNSIGNED_INVALID
        now = utcnow().replace(microsecond=0)
        instance_id = body.license_key_instance_id
        has = None if instance_id is None else await self.store.has_instance(row.id, instance_id)
        return await signed_answer(
            self.signer,
            row,
            license_key=body.license_key,
            instance_id=instance_id,
            nonce=nonce,
            state=state_of(row, now, has),
            now=now,
        )

    async def activate(self, body: ActivateIn, mode: Mode, origin: Origin) -> ActivateOut:
        """Activate; the audit event (actor: the key, `license_key:lic_…`, unless `origin`
        names one) is written in the activation's transaction."""
        row = await self._require(body, mode)
        now = utcnow()
        state = status_of(row.disabled, row.expires_at, now)
        if state == "disabled":
            raise Unprocessable("this license key is disabled", code="LICENSE_KEY_DISABLED")
        if state == "expired":
            raise Unprocessable("this license key has expired", code="LICENSE_KEY_EXPIRED")
        instance_id = new_id("lki")
        if not await self.store.activate(row, instance_id, body.name, now, origin):
            raise Unprocessable(
                "this license key has reached its activations limit",
                code="LICENSE_KEY_LIMIT_REACHED",
            )
        details = await self.store.details(row.customer_id, row.product_id)
        if details is None:  # both rows are referenced by foreign keys
            raise LicenseKeyNotFound("license key not found")
        return ActivateOut(
            id=instance_id,
            business_id=row.business_id,
            created_at=now,
            license_key_id=row.id,
            name=body.name,
            customer=CustomerBrief(
                customer_id=details.customer_id,
                email=details.email,
                name=details.name,
                phone_number=details.phone_number,
                metadata=details.metadata,
            ),
            product=ProductBrief(product_id=details.product_id, name=details.product_name),
        )

    async def deactivate(self, body: DeactivateIn, mode: Mode, origin: Origin) -> None:
        row = await self._require(body, mode)
        if not await self.store.deactivate(row, body.license_key_instance_id, utcnow(), origin):
            raise NotFound(
                "no such instance for this license key", code="LICENSE_KEY_INSTANCE_NOT_FOUND"
            )
