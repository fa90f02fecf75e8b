"""What the desk's console pages share: the staff member as the services' caller, the
license form's fields and labels (the seed's words), and form data to a request body."""

from __future__ import annotations

import json
from typing import Any

from licensor.console.forms import FormErrors
from licensor.console.session import StaffUser
from licensor.kit.errors import LicensorError
from licensor.kit.tenancy import Principal
from licensor.license_desk import rules
from licensor.license_desk.errors import FieldsMissing
from licensor.license_desk.schemas import NOTE_LABELS

# (form name, the seed's label), in the form's order.
FIELDS = (
    ("license_type", "License type"),
    ("customer_id", "Customer"),
    ("name", "Name"),
    ("company", "Company"),
    ("email", "Email"),
    ("users_count", "Users count"),
    ("plan_code", "Plan code"),
    ("starts_at", "Starts at"),
    ("expires_at", "Expires at"),
    ("subscription_id", "Subscription ID"),
)
LABELS = dict(FIELDS) | {"notes": "Notes", "ticket_link": "Ticket link", "label": "Label"}
TYPES = (("legacy", "Legacy License"), ("offline_cloud", "Offline Cloud"))
NEW_TYPES = (*TYPES, ("online_cloud", "Online Cloud"))
TYPE_NAMES = dict(NEW_TYPES)
MARK_OF_TYPE = "(required)"
MARK_OF_SUPPORT = "(required of support)"
LABEL_CHOICES = (("", "No label"), *((label, label) for label in NOTE_LABELS))
ONLINE_CLOUD_EXPLANATION = (
    "With Strict Cloud Licensing, Online Cloud Subscriptions only send out an activation "
    "code. A license will no longer be supplied. Hence, license creation for this type is "
    "not supported."
)
# Which field an error of the desk belongs next to.
FIELD_OF_CODE = {
    "CUSTOMER_NOT_FOUND": "customer_id",
    "CUSTOMER_REQUIRED": "customer_id",
    "PLAN_NOT_FOUND": "plan_code",
    "SUBSCRIPTION_NOT_FOUND": "subscription_id",
    "SUBSCRIPTION_CUSTOMER_MISMATCH": "subscription_id",
    "SUBSCRIPTION_NOT_CLOUD_COMPATIBLE": "subscription_id",
    "SUBSCRIPTION_CLOUD_LICENSING_NOT_OFFLINE": "subscription_id",
    "SUBSCRIPTION_CLOUD_LICENSING_ONLINE": "subscription_id",
    "SUBSCRIPTION_WITHOUT_END_DATE": "subscription_id",
    "ACTIVATION_CODE_MISSING": "subscription_id",
    "INVALID_TERM": "expires_at",
    "RECIPIENT_IS_STAFF": "email",
    "RECIPIENT_IS_RESELLER": "email",
    "INVALID_EMAIL_DOMAIN": "email",
    "EMAIL_DOMAIN_IS_IP_ADDRESS": "email",
    "EMAIL_HAS_INVISIBLE_CHARACTERS": "email",
    "ONLINE_CLOUD_LICENSE_NOT_SUPPORTED": "license_type",
}


def principal(staff: StaffUser) -> Principal:
    """The staff member as the services' caller: their business, the face's mode."""
    return Principal(business_id=staff.business_id, mode=staff.mode, api_key_id=staff.id)


def issuer(staff: StaffUser) -> rules.Issuer:
    """The signed-in staff member is the note's author."""
    return rules.Issuer("staff", staff.email)


def marks_of(license_type: str) -> dict[str, str]:
    """Each field staff must fill for this type, with its mark as the seed lists it: the
    type's own fields `(required)`, the rest `(required of support)` (`rules`)."""
    own = set(rules.type_fields(license_type))
    needed = rules.required_fields(license_type, rules.Issuer("staff", ""))
    return {f: MARK_OF_TYPE if f in own else MARK_OF_SUPPORT for f in needed}


def required_marks(types: tuple[tuple[str, str], ...]) -> str:
    """The form's `data-required`: every offered type's marks, as JSON for `desk.js`."""
    return json.dumps({kind: marks_of(kind) for kind, _ in types}, separators=(",", ":"))


def desk_errors(exc: LicensorError) -> FormErrors:
    """A desk error next to its field; every missing field named next to itself."""
    out = FormErrors()
    if isinstance(exc, FieldsMissing):
        for name in exc.fields:
            out.fields[name] = f"{LABELS.get(name, name)} is required for this license type."
        out.general.append(exc.message)
        return out
    field = FIELD_OF_CODE.get(exc.code)
    if field:
        out.fields[field] = exc.message
    else:
        out.general.append(exc.message)
    return out


def body_of(form: dict[str, str]) -> dict[str, Any]:
    """Form text to a request body: every control's value as typed (blank is missing);
    `users_count` as a number when it is one (else the schema names it)."""
    body: dict[str, Any] = {name: form.get(name, "") for name, _ in FIELDS}
    for extra in ("notes", "ticket_link", "label"):
        body[extra] = form.get(extra, "")
    count = body["users_count"].strip()
    if count.isdigit():
        body["users_count"] = int(count)
    return body


def date_value(value: Any) -> str:
    """A datetime as the date input shows it."""
    return value.date().isoformat() if hasattr(value, "date") else str(value or "")
