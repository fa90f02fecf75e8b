"""The rows of a license-key import file, and what an import run reports (docs/import.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, StringConstraints

from licensor.kit.schemas import Name, check_email, has_control_characters
from licensor.license_key.schemas import KeyText, LicenseKeyFields

# The columns of a file (CSV header, JSON-lines keys); `key`, `customer` and `product`
# are required. An empty CSV cell of a nullable column is null, as JSON's null.
COLUMNS = (
    "key",
    "customer",
    "product",
    "activations_limit",
    "expires_at",
    "disabled",
    "payment_id",
    "subscription_id",
    "customer_name",
)
REQUIRED = ("key", "customer", "product")
NULLABLE = frozenset({"activations_limit", "expires_at"})
CUSTOMER_ID_PREFIX = "cus_"
PRODUCT_ID_PREFIX = "pdt_"


def _plain(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("control characters are not allowed")
    return value


def _customer(value: str) -> str:
    """A customer's email (the API's email rule) or id (`cus_…`)."""
    if has_control_characters(value):
        raise ValueError("control characters are not allowed")
    if "@" in value:
        return check_email(value)
    if not value.startswith(CUSTOMER_ID_PREFIX):
        raise ValueError("a customer is named by its email or its id (cus_…)")
    return value


CustomerRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=320),
    AfterValidator(_customer),
]
ProductRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_plain),
]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_plain)]


class LicenseKeyImportRow(LicenseKeyFields):
    """One row of an import file: `POST /license_keys`'s own fields and rules (the key
    text, `activations_limit`, `expires_at`: left out, the product's default; null,
    unlimited or never), the key required, the customer and product named instead of
    given by id, and the fields only an import sets."""

    key: KeyText
    customer: CustomerRef
    product: ProductRef
    customer_name: Name | None = None
    disabled: bool = False
    payment_id: Reference | None = None
    subscription_id: Reference | None = None


class ImportSummary(BaseModel):
    """What `licensor license-keys import` prints: this invocation's work, and the run's."""

    run_id: str
    status: str
    file_sha256: str
    imported: int
    rejected: int
    customers_created: int
    skipped_lines: int
    batches: int
    seconds: float
    keys_per_second: float
    run_imported: int
    run_rejected: int
    report: str | None
