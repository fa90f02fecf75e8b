"""Delivery API shapes: the deliveries of a license and a business's mail settings."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from licensor.kit.schemas import Email, Input, Output

Kind = Literal["key", "file", "activation_code"]
DeliveryStatus = Literal["queued", "sending", "sent", "failed"]

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _domain(value: str) -> str:
    value = value.strip().lower().lstrip("@").rstrip(".")
    if not DOMAIN_RE.match(value):
        raise ValueError("not a valid domain name")
    return value


def _domains(values: list[str]) -> list[str]:
    return sorted(set(values))


Domain = Annotated[str, StringConstraints(max_length=253), AfterValidator(_domain)]
Domains = Annotated[list[Domain], Field(max_length=200), AfterValidator(_domains)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class DeliveryCreate(Input):
    to: Email | None = Field(
        default=None,
        description="Send to this address instead of the licensee's; needs a `reason`.",
    )
    reason: Reason | None = Field(
        default=None, description="Why: required when `to` is not the licensee; kept."
    )


class DeliveryOut(Output):
    id: str
    license_id: str
    kind: Kind
    template: str
    recipient: str
    licensee_email: str
    redirected: bool = Field(description="True when sent to an address other than the licensee")
    reason: str | None
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    message_id: str
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    resend_of: str | None


class MailSettingsIn(Input):
    sender_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    sender_email: Email | None = None
    reply_to: Email | None = None
    footer: Annotated[str, StringConstraints(max_length=4000)] | None = None
    domain: Domain | None = Field(
        default=None, description="The business's domain, used in Message-IDs."
    )
    staff_domains: Domains = Field(
        default_factory=list, description="Staff addresses: a license is never sent there."
    )
    reseller_domains: Domains = Field(
        default_factory=list, description="Resellers: a license is never sent there."
    )


class MailSettingsOut(Output):
    business_id: str
    mode: str
    sender_name: str | None
    sender_email: str | None
    reply_to: str | None
    footer: str | None
    domain: str | None
    staff_domains: list[str]
    reseller_domains: list[str]
