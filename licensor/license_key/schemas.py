from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from licensor.kit.schemas import UTC, Id, Input, Output, has_control_characters
from licensor.license_key.keys import Status

Source = Literal["auto", "import", "manual"]


def is_printable_key(value: str) -> bool:
    """Not blank, and no C0 control character or DEL."""
    return bool(value.strip()) and not has_control_characters(value)


def _printable(value: str) -> str:
    if not is_printable_key(value):
        raise ValueError("a key must be printable and not blank")
    return value


KeyText = Annotated[
    str, StringConstraints(min_length=1, max_length=512), AfterValidator(_printable)
]
Limit = Annotated[int, Field(ge=0, le=2_000_000_000)]


class LicenseKeyFields(Input):
    """A new key's own fields and their rules: `POST /license_keys` takes them, and so
    does each row of an import file (`import_schemas.LicenseKeyImportRow`)."""

    key: KeyText | None = Field(
        default=None,
        description="The key to import; left out, one is generated in the product's format.",
    )
    activations_limit: Limit | None = Field(
        default=None, description="Null means unlimited; left out, the product's default."
    )
    expires_at: UTC | None = Field(
        default=None, description="Null means never; left out, the product's key duration."
    )


class LicenseKeyCreate(LicenseKeyFields):
    customer_id: Id
    product_id: Id


class LicenseKeyUpdate(Input):
    activations_limit: Limit | None = None
    disabled: bool | None = None
    expires_at: UTC | None = None


class LicenseKeyOut(Output):
    id: str
    brand_id: str
    business_id: str
    created_at: datetime
    customer_id: str
    instances_count: int
    key: str
    product_id: str
    source: Source
    status: Status
    activations_limit: int | None = None
    expires_at: datetime | None = None
    payment_id: str | None = None
    subscription_id: str | None = None
