"""The desk's rules that need no database: which fields a license needs from whom, its
status, the licensee's company, and the subscription checks of each license type.
`service.py` applies them; the console's forms read the required fields from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from licensor.kit.errors import Unprocessable
from licensor.kit.tenancy import Principal
from licensor.license_desk.schemas import LicenseCreate
from licensor.models import Customer, DeskLicense, Subscription

KEY_PURPOSE = "desk_license"
REQUIRED = (
    "license_type",
    "name",
    "company",
    "email",
    "users_count",
    "plan_code",
    "starts_at",
    "expires_at",
)
REQUIRED_BY_TYPE = {"legacy": (), "offline_cloud": ("customer_id", "subscription_id")}
REQUIRED_OF_STAFF = ("customer_id", "subscription_id", "notes")
FIELD_ORDER = (*REQUIRED[:1], "customer_id", *REQUIRED[1:4], "subscription_id", *REQUIRED[4:])
DUPLICABLE_FIELDS = (*REQUIRED, "customer_id", "subscription_id")


@dataclass(frozen=True)
class Issuer:
    kind: Literal["staff", "cloud"]
    author: str


def staff(who: Principal, author: str | None) -> Issuer:
    return Issuer("staff", author or f"api_key:{who.api_key_id}")


def type_fields(license_type: str | None) -> list[str]:
    """What the license type itself needs, whoever issues it (the seed's "Required
    fields" of each type)."""
    needed = set(REQUIRED) | set(REQUIRED_BY_TYPE.get(license_type or "legacy", ()))
    return [f for f in FIELD_ORDER if f in needed]


def required_fields(license_type: str | None, issuer: Issuer) -> list[str]:
    """The type's fields, plus for staff the seed's "Required to be filled by Support"."""
    needed = set(type_fields(license_type))
    if issuer.kind == "staff":
        needed |= set(REQUIRED_OF_STAFF)
    return [f for f in (*FIELD_ORDER, "notes") if f in needed]


def missing_fields(body: LicenseCreate, issuer: Issuer) -> list[str]:
    """The required fields left out, null or blank (the schema turns blank into None)."""
    return [f for f in required_fields(body.license_type, issuer) if getattr(body, f) is None]


def status_of(row: DeskLicense, now: datetime) -> str:
    """Derived when read: `not_started` before its start, `expired` from its expiry."""
    if now < row.starts_at:
        return "not_started"
    return "expired" if now >= row.expires_at else "active"


def company_of(customer: Customer) -> str:
    company = customer.metadata_.get("company") if customer.metadata_ else None
    return company if isinstance(company, str) and company.strip() else customer.name


def check_offline_subscription(sub: Subscription, has_live_code: bool) -> None:
    """The seed's three preconditions of an offline cloud license, each its own code."""
    ref = sub.external_id or sub.id
    if sub.seat_reconciliation is None:
        raise Unprocessable(
            f"subscription {ref} is not cloud-license compatible (no seat reconciliation)",
            code="SUBSCRIPTION_NOT_CLOUD_COMPATIBLE",
        )
    if sub.cloud_licensing not in ("Offline", "No"):
        raise Unprocessable(
            f"subscription {ref} has cloud licensing {sub.cloud_licensing or 'unset'}; an "
            "offline cloud license needs Offline or No",
            code="SUBSCRIPTION_CLOUD_LICENSING_NOT_OFFLINE",
        )
    if not has_live_code:
        raise Unprocessable(
            f"subscription {ref} has no activation code; create one first",
            code="ACTIVATION_CODE_MISSING",
        )


def check_legacy_subscription(sub: Subscription) -> None:
    """Strict cloud licensing: an online cloud ("Yes") subscription only gets its
    activation code, never a legacy license file."""
    if sub.cloud_licensing == "Yes":
        raise Unprocessable(
            f"subscription {sub.external_id or sub.id} has cloud licensing Yes: it gets an "
            "activation code, not a license file (strict cloud licensing)",
            code="SUBSCRIPTION_CLOUD_LICENSING_ONLINE",
        )
