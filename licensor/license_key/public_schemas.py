from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from licensor.customer.schemas import CustomerBrief
from licensor.kit.schemas import Id, Input, Name
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


class ValidateIn(PublicCheck):
    license_key_instance_id: Id | None = None


class DeactivateIn(PublicCheck):
    license_key_instance_id: Id


class ValidateOut(BaseModel):
    valid: bool


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
