"""Delivery API shapes: the deliveries of a license and a business's mail settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from licensor.kit.addresses import AddressError, normalise_domain, split_address
from licensor.kit.schemas import Email, Input, Output

Kind = Literal["key", "file", "activation_code"]
DeliveryStatus = Literal["queued", "sending", "sent", "failed", "cancelled"]


def _domain(value: str) -> str:
    """Stored canonical (licensor/kit/addresses.py), so comparisons see what mail servers see."""
    try:
        return normalise_domain(value.strip().removeprefix("@"))
    except AddressError as exc:
        raise ValueError(str(exc)) from exc


def _domains(values: list[str]) -> list[str]:
    return sorted(set(values))


def _no_controls(value: str) -> str:
    """One line of printable text: also keeps NUL out of PostgreSQL and CR/LF out of headers."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _plain_address(value: str) -> str:
    """A sender or reply-to shown to licensees: no invisible characters, no IP literal."""
    try:
        split_address(value)
    except AddressError as exc:
        raise ValueError(str(exc)) from exc
    return value


Domain = Annotated[str, StringConstraints(max_length=253), AfterValidator(_domain)]
Address = Annotated[Email, AfterValidator(_no_controls)]
ShownAddress = Annotated[Address, AfterValidator(_plain_address)]
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_controls)
]
Domains = Annotated[list[Domain], Field(max_length=200), AfterValidator(_domains)]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(_no_nul),
]


class DeliveryCreate(Input):
    to: Address | None = Field(
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
    sender_name: Line | None = None
    sender_email: ShownAddress | None = None
    reply_to: ShownAddress | None = None
    footer: Annotated[str, StringConstraints(max_length=4000), AfterValidator(_no_nul)] | None = (
        None
    )
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


class MailHealthOut(Output):
    configured: bool = Field(description="LICENSOR_SMTP_HOST is set")
    worker: bool = Field(description="A delivery worker runs inside this server")
    queued: int | None = Field(description="This business's emails waiting or being sent")
    failed: int | None = Field(description="This business's emails that failed for good")
    error: str | None = Field(default=None, description="Why the counts are missing")
