"""Webhook endpoints in Dodo's shapes (`WebhookDetails`, the secret, the headers), and
Licensor's own delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from licensor.kit.schemas import Input, Output
from licensor.webhooks.events import EVENT_TYPES


def _known_types(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - EVENT_TYPES)
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)} (docs/events.md)")
    return list(dict.fromkeys(value))


FilterTypes = Annotated[list[str], Field(max_length=100), AfterValidator(_known_types)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Text = Annotated[str, StringConstraints(max_length=1000)]
StrMap = dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Text]
HeaderMap = dict[
    Annotated[
        str,
        StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"),
    ],
    Annotated[str, StringConstraints(max_length=4000, pattern=r"^[\x20-\x7e\t]*$")],
]
RateLimit = Annotated[int, Field(ge=1, le=100_000, description="Deliveries per second")]


class WebhookCreate(Input):
    url: Url
    description: Text | None = None
    disabled: bool | None = None
    filter_types: FilterTypes = Field(default_factory=list)
    headers: HeaderMap | None = None
    idempotency_key: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None,
        description="Accepted for the SDK's sake; send the `Idempotency-Key` header instead.",
    )
    metadata: StrMap | None = None
    rate_limit: RateLimit | None = None


class WebhookUpdate(Input):
    """Left out or null: unchanged; except `rate_limit`, where null removes the limit."""

    description: Text | None = None
    disabled: bool | None = None
    filter_types: FilterTypes | None = None
    metadata: StrMap | None = None
    rate_limit: RateLimit | None = None
    url: Url | None = None


class WebhookOut(Output):
    id: str
    created_at: datetime
    description: str
    metadata: dict[str, str]
    updated_at: datetime
    url: str
    disabled: bool
    filter_types: list[str]
    rate_limit: int | None = None


class WebhookPage(Output):
    data: list[WebhookOut]
    iterator: str | None = None
    done: bool


class SecretOut(Output):
    secret: str


class HeadersOut(Output):
    headers: dict[str, str]
    sensitive: list[str]


class HeadersUpdate(Input):
    headers: HeaderMap


class AttemptOut(Output):
    id: str
    attempted_at: datetime
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None


class DeliveryOut(Output):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    resend_of: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class DeliveryDetail(DeliveryOut):
    request: dict[str, Any] = Field(description="The body sent (the event)")
    attempt_log: list[AttemptOut]


class DeliveryPage(Output):
    data: list[DeliveryOut]
    iterator: str | None = None
    done: bool
