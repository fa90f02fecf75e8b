from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from licensor.customer.schemas import CustomerBrief
from licensor.kit.schemas import Id, Input, Name, Nonce
from licensor.license_key.schemas import KeyText
from licensor.product.policy import Fingerprint

PRODUCT_PIN = (
    "Optional: the product this software is. A key of any other product (and so of any "
    "other business) is then unknown, exactly like a key that does not exist."
)


class PublicCheck(Input):
    """What every public route takes: the key, and the product it must belong to."""

    license_key: KeyText
    product_id: Id | None = Field(default=None, description=PRODUCT_PIN)


FINGERPRINT = (
    "Optional, Licensor's own: the machine's fingerprint (1-200 of A-Z a-z 0-9 . _ : + / = -, "
    "starting with a letter or digit), matched as the product's policy says. One fingerprint "
    "holds one seat: activating it again answers its existing instance (docs/machines.md)."
)
STATE = (
    "Licensor's own: the key's state, `valid`, `in_grace` (after its expiry, within the "
    "policy's grace), `expired` or `disabled`; absent for an unknown key."
)
CODE = "`LICENSE_KEY_IN_GRACE` when the answer is valid only by the grace period."


class ActivateIn(PublicCheck):
    name: Name
    fingerprint: Fingerprint | None = Field(default=None, description=FINGERPRINT)


NONCE = (
    "Optional (Licensor's): 16-128 characters (A-Z a-z 0-9 . _ ~ + / = -), new for each "
    "request. The answer then also carries `signed`: a statement signed by the business's "
    'active key that echoes it (docs/license-file-format.md, "Signed answers").'
)


class ValidateIn(PublicCheck):
    license_key_instance_id: Id | None = None
    fingerprint: Fingerprint | None = Field(
        default=None, description="Optional: valid only if this machine holds a seat."
    )
    nonce: Nonce | None = Field(default=None, description=NONCE)


class DeactivateIn(PublicCheck):
    license_key_instance_id: Id


class HeartbeatIn(PublicCheck):
    license_key_instance_id: Id


class SignedAnswerStatement(BaseModel):
    """What a signed validate answer says; the signature covers exactly these fields."""

    business_id: str
    mode: str
    issued_at: str = Field(description="The server's time, ISO 8601 to the second, UTC")
    license_key_id: str
    license_key_digest: str = Field(
        description="HMAC-SHA256 of the license key sent, keyed with the nonce (hex)"
    )
    license_key_instance_id: str | None = Field(description="The instance asked about, if any")
    product_id: str
    nonce: str
    valid: bool
    state: str = Field(
        description="The key's: `valid`, `in_grace`, `expired` or `disabled` (an instance or "
        "machine asked about that holds no seat makes `valid` false)"
    )


class SignedAnswer(BaseModel):
    answer: SignedAnswerStatement
    kid: str
    alg: str = Field(description="`EdDSA`")
    signature: str = Field(
        description="Ed25519, base64url, over `licensor/signed-answer/v1` 0x00 and the "
        "canonical JSON of `answer`"
    )


class ValidateOut(BaseModel):
    valid: bool
    state: str | None = Field(default=None, description=STATE)
    code: str | None = Field(default=None, description=CODE)
    signed: SignedAnswer | None = Field(
        default=None,
        description="Only when the request sent a `nonce` and the key is known to this face",
    )


class ProductBrief(BaseModel):
    product_id: str
    name: str | None = None


class ActivateOut(BaseModel):
    id: str
    business_id: str
    created_at: datetime
    license_key_id: str
    name: str
    customer: CustomerBrief
    product: ProductBrief
    fingerprint: str | None = Field(default=None, description="As matched (docs/machines.md).")
    state: str = Field(default="valid", description=STATE)
    code: str | None = Field(default=None, description=CODE)


class HeartbeatOut(BaseModel):
    """`POST /licenses/heartbeat` (Licensor's own): the instance still holds its seat."""

    id: str
    license_key_id: str
    last_heartbeat_at: datetime
    heartbeat_interval_seconds: int | None = Field(
        description="Floating seats: send the next heartbeat within this; null: node-locked."
    )
    seat_expires_at: datetime | None = Field(
        description="Floating seats: silent until then, the seat is lost; null: node-locked."
    )
    state: str = Field(description=STATE)
    code: str | None = Field(default=None, description=CODE)
