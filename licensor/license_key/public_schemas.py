from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from licensor.customer.schemas import CustomerBrief
from licensor.kit.schemas import Id, Input, Name, Nonce
from licensor.license_key.schemas import KeyText

PRODUCT_PIN = (
    "Optional: the product this software is. A key of any other product (and so of any "
    "other business) is then unknown, exactly like a key that does not exist."
)


class PublicCheck(Input):
    """What every public route takes: the key, and the product it must belong to."""

    license_key: KeyText
    product_id: Id | None = Field(default=None, description=PRODUCT_PIN)


class ActivateIn(PublicCheck):
    name: Name


NONCE = (
    "Optional (Licensor's): 16-128 characters (A-Z a-z 0-9 . _ ~ + / = -), new for each "
    "request. The answer then also carries `signed`: a statement signed by the business's "
    'active key that echoes it (docs/license-file-format.md, "Signed answers").'
)


class ValidateIn(PublicCheck):
    license_key_instance_id: Id | None = None
    nonce: Nonce | None = Field(default=None, description=NONCE)


class DeactivateIn(PublicCheck):
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
    state: str = Field(description="`active`, `disabled`, `expired` or `instance_not_found`")


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
