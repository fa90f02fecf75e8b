from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from licensor.customer.schemas import CustomerBrief
from licensor.kit.schemas import Id, Input, Name
from licensor.license_key.schemas import KeyText


class ActivateIn(Input):
    license_key: KeyText
    name: Name


class ValidateIn(Input):
    license_key: KeyText
    license_key_instance_id: Id | None = None


class DeactivateIn(Input):
    license_key: KeyText
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
