from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from licensor.delivery.schemas import DeliveryOut
from licensor.kit.schemas import UTC, Id, Input, Output
from licensor.plan.schemas import MaxInstances

CloudLicensing = Literal["Yes", "Offline", "No"]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
SubName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Seats = Annotated[int, Field(strict=True, ge=1, le=10_000_000)]
MAX_INSTANCES_HELP = (
    "Overrides the plan's cap on active cloud instances (at least 1); null: the plan's."
)


class SubscriptionCreate(Input):
    customer_id: Id
    plan_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    users_count: Seats
    starts_at: UTC
    expires_at: UTC | None = None
    external_id: ExternalId | None = Field(
        default=None, description="The billing system's subscription id (e.g. Zuora's)."
    )
    name: SubName | None = Field(default=None, description="The billing subscription name.")
    cloud_licensing: CloudLicensing | None = Field(
        default=None, description="`Yes`, `Offline`, `No`, or null for a legacy subscription."
    )
    seat_reconciliation: bool | None = Field(
        default=None, description="Null: the field is absent (not cloud-license compatible)."
    )
    max_instances: MaxInstances | None = Field(default=None, description=MAX_INSTANCES_HELP)
    send_email: bool = Field(
        default=False,
        strict=True,
        description="Cloud licensing `Yes`: email the new activation code to the customer, "
        "queued in the same transaction.",
    )


class SubscriptionUpdate(Input):
    plan_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    users_count: Seats | None = None
    starts_at: UTC | None = None
    expires_at: UTC | None = None
    external_id: ExternalId | None = None
    name: SubName | None = None
    cloud_licensing: CloudLicensing | None = None
    seat_reconciliation: bool | None = None
    max_instances: MaxInstances | None = Field(default=None, description=MAX_INSTANCES_HELP)


class SubscriptionOut(Output):
    id: str
    customer_id: str
    plan_id: str
    plan_code: str
    users_count: int
    starts_at: datetime
    expires_at: datetime | None
    external_id: str | None
    name: str | None
    cloud_licensing: CloudLicensing | None
    seat_reconciliation: bool | None
    max_instances: int | None = Field(description="The subscription's own cap, or null.")
    effective_max_instances: int = Field(
        description="The cap on active cloud instances: `max_instances`, else the plan's."
    )
    cancelled_at: datetime | None
    has_activation_code: bool
    created_at: datetime
    updated_at: datetime


class ActivationCodeCreate(Input):
    send_email: bool = Field(
        default=False,
        strict=True,
        description="Email the new code and the activation instructions to the "
        "subscription's customer, queued in the same transaction (cloud licensing `Yes`).",
    )


class ActivationCodeOut(Output):
    subscription_id: str
    activation_code: str
    created_at: datetime
    delivery: DeliveryOut | None = Field(
        default=None, description="The email queued for this code, when one was asked for."
    )


class SeatLinkOut(Output):
    id: str
    instance_id: str
    reported_at: datetime
    billable_users_count: int
    max_historical_users_count: int
    licensed_users_count: int
    overage: int
    license_id: str
    created_at: datetime
