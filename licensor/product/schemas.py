from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from licensor.kit.schemas import Input, JsonObject, Metadata, Name, Output
from licensor.models import Product
from licensor.product.policy import (
    POLICY_FIELDS,
    LicensePolicy,
    LicensePolicyIn,
    LicensePolicyUpdate,
)

POLICY_NOTE = "Licensor's own: machines, floating seats and grace (docs/machines.md)."

Interval = Literal["Day", "Week", "Month", "Year"]
KeyFormat = Literal["base32", "uuid", "hex64"]
KeyPrefix = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,12}$")]


MAX_DURATION_YEARS = 1000


class LicenseKeyDuration(BaseModel):
    count: int = Field(ge=1, le=10_000)
    interval: Interval


class LicenseKeyDurationIn(LicenseKeyDuration):
    @model_validator(mode="after")
    def _bounded(self) -> LicenseKeyDurationIn:
        # now + the duration must stay a valid datetime (year <= 9999)
        if self.interval == "Year" and self.count > MAX_DURATION_YEARS:
            raise ValueError(f"a key duration is at most {MAX_DURATION_YEARS} years")
        return self


class ProductCreate(Input):
    name: Name
    description: str | None = Field(default=None, max_length=5000)
    price: JsonObject | None = None
    tax_category: str | None = Field(default=None, max_length=40)
    license_key_enabled: bool = True
    license_key_activations_limit: int | None = Field(default=None, ge=0, le=2_000_000_000)
    license_key_duration: LicenseKeyDurationIn | None = None
    license_key_activation_message: str | None = Field(default=None, max_length=2000)
    key_format: KeyFormat = "base32"
    key_prefix: KeyPrefix | None = None
    metadata: Metadata = Field(default_factory=dict, max_length=50)
    license_policy: LicensePolicyIn | None = Field(default=None, description=POLICY_NOTE)


class ProductUpdate(Input):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=5000)
    price: JsonObject | None = None
    tax_category: str | None = Field(default=None, max_length=40)
    license_key_enabled: bool | None = None
    license_key_activations_limit: int | None = Field(default=None, ge=0, le=2_000_000_000)
    license_key_duration: LicenseKeyDurationIn | None = None
    license_key_activation_message: str | None = Field(default=None, max_length=2000)
    key_format: KeyFormat | None = None
    key_prefix: KeyPrefix | None = None
    metadata: Metadata | None = Field(default=None, max_length=50)
    license_policy: LicensePolicyUpdate | None = Field(
        default=None, description=POLICY_NOTE + " The fields sent change; the rest stay."
    )


class ProductOut(Output):
    product_id: str
    business_id: str
    brand_id: str
    name: str
    description: str | None
    price: dict[str, Any] | None
    tax_category: str | None
    is_recurring: bool
    license_key_enabled: bool
    license_key_activations_limit: int | None
    license_key_duration: LicenseKeyDuration | None
    license_key_activation_message: str | None
    key_format: KeyFormat
    key_prefix: str | None
    metadata: Metadata
    license_policy: LicensePolicy
    entitlements: list[Any] = Field(default_factory=list)
    credit_entitlements: list[Any] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Product, brand_id: str) -> ProductOut:
        duration = None
        if row.license_key_duration_count is not None and row.license_key_duration_interval:
            duration = LicenseKeyDuration(
                count=row.license_key_duration_count,
                interval=row.license_key_duration_interval,
            )
        return cls(
            product_id=row.id,
            business_id=row.business_id,
            brand_id=brand_id,
            name=row.name,
            description=row.description,
            price=row.price,
            tax_category=row.tax_category,
            is_recurring=row.is_recurring,
            license_key_enabled=row.license_key_enabled,
            license_key_activations_limit=row.license_key_activations_limit,
            license_key_duration=duration,
            license_key_activation_message=row.license_key_activation_message,
            key_format=row.key_format,
            key_prefix=row.key_prefix,
            metadata=row.metadata_,
            license_policy=policy_of(row),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def policy_of(row: Product) -> LicensePolicy:
    return LicensePolicy.model_validate({name: getattr(row, name) for name in POLICY_FIELDS})
