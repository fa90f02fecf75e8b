from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from licensor.kit.schemas import UTC, Input, Output

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
InstanceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Count = Annotated[int, Field(strict=True, ge=0, le=100_000_000)]


class ActivateIn(Input):
    activation_code: Code
    instance_id: InstanceId = Field(description="The instance's own stable identifier.")


class CloudLicenseOut(Output):
    license_id: str
    license_key: str
    license_file: str
    instance_id: str
    users_count: int
    plan_code: str
    starts_at: datetime
    expires_at: datetime


class SeatLinkIn(Input):
    license_key: Code | None = Field(default=None, description="The key of the license held.")
    activation_code: Code | None = Field(default=None, description="Or the activation code.")
    instance_id: InstanceId
    timestamp: UTC
    billable_users_count: Count
    max_historical_users_count: Count


class SeatLinkOut(CloudLicenseOut):
    new_license: bool = Field(description="True when the subscription changed since the last file.")
    billable_users_count: int
    max_historical_users_count: int
    licensed_users_count: int
    overage: int


CloudInstanceStatus = Literal["active", "code_revoked", "revoked"]


class CloudInstanceOut(Output):
    id: str = Field(description="The server's id of the instance (`ins_…`).")
    subscription_id: str
    instance_id: str = Field(description="The instance's own id, as it sent it.")
    license_id: str = Field(description="The online cloud license it holds now.")
    activation_code_id: str | None = Field(
        description="The activation code it was (last) activated with."
    )
    status: CloudInstanceStatus = Field(
        description="`active` (holds a slot), `code_revoked` (its activation code was "
        "revoked: it must activate again with the current one) or `revoked` (by staff)."
    )
    activated_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
