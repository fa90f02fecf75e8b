"""The signed payload of a license file (docs/license-file-format.md, section 5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidPayload

# The license file of a license key activated by an air-gapped machine: always bound (its
# `fingerprint` and/or `instance_id`), its `id` the key's (`lic_…`).
MACHINE = "machine"


@dataclass(frozen=True)
class Licensee:
    name: str
    company: str
    email: str


@dataclass(frozen=True)
class PlanInfo:
    code: str
    name: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class SubscriptionRef:
    id: str
    external_id: str | None
    name: str | None


@dataclass(frozen=True)
class LicensePayload:
    version: int
    id: str
    type: str
    business_id: str
    mode: str
    licensee: Licensee
    plan: PlanInfo
    users_count: int
    starts_at: datetime
    expires_at: datetime | None  # None only on a `machine` file of a key that never expires
    issued_at: datetime
    subscription: SubscriptionRef | None
    cloud_instance_id: str | None
    # Binding (None: not bound, and in files written before the field): the cloud
    # instance's own id as it sent it when activating (online cloud licenses), and the
    # machine fingerprint a machine file is for (see `verify_license_file`'s pins).
    instance_id: str | None
    fingerprint: str | None
    kid: str
    # A `machine` file (air-gapped activation of a license key): the seat it holds and the
    # product; None on the other types.
    license_key_instance_id: str | None
    product_id: str | None


def _text(obj: Mapping[str, Any], name: str, optional: bool = False) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"payload field {name} must be a string")
    return value


def _time(obj: Mapping[str, Any], name: str) -> datetime:
    try:
        value = datetime.fromisoformat(_text(obj, name))
    except ValueError as exc:
        raise InvalidPayload(f"payload field {name} is not an ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _mapping(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise InvalidPayload(f"payload field {name} must be an object")
    return value


def payload_from_dict(data: Any, kid: str) -> LicensePayload:
    if not isinstance(data, dict):
        raise InvalidPayload("the payload must be a JSON object")
    who, plan, sub = _mapping(data, "licensee"), _mapping(data, "plan"), data.get("subscription")
    features = plan.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidPayload("payload field plan.features must be a list of strings")
    for name in ("version", "users_count"):
        if not isinstance(data.get(name), int) or isinstance(data.get(name), bool):
            raise InvalidPayload(f"payload field {name} must be an integer")
    if sub is not None and not isinstance(sub, dict):
        raise InvalidPayload("payload field subscription must be an object or null")
    return LicensePayload(
        version=data["version"],
        id=_text(data, "id"),
        type=_text(data, "type"),
        business_id=_text(data, "business_id"),
        mode=_text(data, "mode"),
        licensee=Licensee(_text(who, "name"), _text(who, "company"), _text(who, "email")),
        plan=PlanInfo(_text(plan, "code"), _text(plan, "name"), tuple(features)),
        users_count=data["users_count"],
        starts_at=_time(data, "starts_at"),
        expires_at=None
        if data.get("type") == MACHINE and data.get("expires_at") is None
        else _time(data, "expires_at"),
        issued_at=_time(data, "issued_at"),
        subscription=None
        if sub is None
        else SubscriptionRef(
            _text(sub, "id"), _text(sub, "external_id", True), _text(sub, "name", True)
        ),
        cloud_instance_id=_text(data, "cloud_instance_id", True),
        kid=kid,
        instance_id=_text(data, "instance_id", True),
        fingerprint=_text(data, "fingerprint", True),
        license_key_instance_id=_text(data, "license_key_instance_id", True),
        product_id=_text(data, "product_id", True),
    )
