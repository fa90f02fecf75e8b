from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from licensor.kit.schemas import UTC, Email, Id, Input, Output

LicenseType = Literal["legacy", "offline_cloud", "online_cloud"]
IssuedBy = Literal["staff", "cloud"]
# The seed's labels for a manually generated license; the trial one marks a trial.
NOTE_LABELS = ("Manually Generate License", "Manually Generate Trial License")
TRIAL_LABEL = NOTE_LABELS[1]
NoteLabel = Literal["Manually Generate License", "Manually Generate Trial License"]


def _blank_is_missing(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


_Blank = BeforeValidator(_blank_is_missing)
Text64 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None, _Blank
]
Text100 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None, _Blank
]
Text300 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None, _Blank
]
Text320 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None, _Blank
]
NoteText = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] | None, _Blank
]
MaybeEmail = Annotated[Email | None, _Blank]
Seats = Annotated[int, Field(strict=True, ge=1, le=10_000_000)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("a URL has no spaces or control characters")
    return value


TicketLink = Annotated[
    Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_http_url)
    ]
    | None,
    _Blank,
]


class NoteFields(Input):
    ticket_link: TicketLink = Field(
        default=None, description="The Zendesk ticket or issue URL (http or https)."
    )
    label: Annotated[NoteLabel | None, _Blank] = Field(
        default=None, description="The seed's label; the trial one marks the license a trial."
    )


class LicenseFields(NoteFields):
    """Every field is optional in the schema: the service names all missing ones at once."""

    license_type: Annotated[LicenseType | None, _Blank] = None
    name: Text300 = Field(default=None, description="Licensee name.")
    company: Text300 = Field(default=None, description="Licensee company.")
    email: MaybeEmail = Field(default=None, description="Licensee email.")
    users_count: Annotated[Seats | None, _Blank] = None
    plan_code: Text64 = None
    starts_at: Annotated[UTC | None, _Blank] = None
    expires_at: Annotated[UTC | None, _Blank] = None
    customer_id: Annotated[Id | None, _Blank] = None
    subscription_id: Text100 = Field(
        default=None, description="Licensor's `sub_…` id or the billing system's id."
    )
    notes: NoteText = Field(
        default=None, description="Why this license is issued, with a link to the ticket."
    )
    author: Text320 = Field(default=None, description="Who issues it (default: the API key's id).")
    send_email: bool = Field(
        default=False,
        strict=True,
        description="Email the signed license file to the licensee, queued in the same "
        "transaction as the license. Staff and reseller addresses are refused.",
    )


class LicenseCreate(LicenseFields):
    pass


class LicenseDuplicate(LicenseFields):
    use_customer_details: bool = Field(
        default=False,
        description="Take name, email and company from the (new) customer. Off: they are "
        "kept from the original license unless given here.",
    )


class NoteCreate(NoteFields):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    author: Text320 = None


class NoteOut(Output):
    id: str
    author: str
    text: str
    ticket_link: str | None
    label: NoteLabel | None
    created_at: datetime


class LicenseOut(Output):
    id: str
    license_type: LicenseType
    issued_by: IssuedBy
    license_key: str
    name: str
    company: str
    email: str
    users_count: int
    plan_code: str
    plan_name: str
    features: list[str]
    starts_at: datetime
    expires_at: datetime
    issued_at: datetime
    customer_id: str | None
    subscription_id: str | None
    subscription_external_id: str | None
    subscription_name: str | None
    duplicated_from_id: str | None
    cloud_instance_id: str | None
    trial: bool = Field(
        description="Marked a trial by a note labelled `Manually Generate Trial License`."
    )
    notes: list[NoteOut]
