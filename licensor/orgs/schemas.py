"""Organisation members and their tokens: JSON in camelCase, as the Storno API writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)
from pydantic.alias_generators import to_camel

from licensor.kit.schemas import Email, Id, Name

Role = Literal["owner", "admin", "member"]
GrantableRole = Literal["admin", "member"]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=300)]


def plausible_id(value: str) -> bool:
    """Ids are short and printable: anything else cannot exist (and never reaches SQL)."""
    return 0 < len(value) <= 64 and "\x00" not in value


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


# ISO 8601 with an explicit offset, e.g. 2026-02-20T10:30:00+00:00 (the seed's form)
Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str)]


class CamelIn(BaseModel):
    """Request bodies: camelCase (snake_case accepted too); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class CamelOut(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


class LoginIn(CamelIn):
    """A sign-in names its tenant: the vendor's business, or the organisation itself."""

    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    business_id: Id | None = Field(
        default=None, description="The vendor's business (or send organizationId)"
    )
    organization_id: Id | None = Field(
        default=None,
        description="The organisation; needed when the email is in several of the business's",
    )


class AcceptInviteIn(CamelIn):
    invite_token: Secret
    password: Password


class SessionOut(CamelOut):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: Timestamp
    member_id: str
    organization_id: str
    role: Role


class OwnerCreate(CamelIn):
    email: Email
    password: Password | None = Field(
        default=None, description="Left out: the answer carries a one-time invite token"
    )


class MemberCreate(OwnerCreate):
    role: GrantableRole = "member"


class RoleUpdate(CamelIn):
    role: GrantableRole


class TransferIn(CamelIn):
    member_id: Id


class MemberOut(CamelOut):
    id: str
    organization_id: str
    email: str
    role: Role
    status: Literal["active", "invited"]
    created_at: Timestamp


class MemberCreated(MemberOut):
    invite_token: str | None = Field(
        default=None, description="Shown once: the member sets a password with it"
    )
    invite_expires_at: Timestamp | None = None


class MemberList(CamelOut):
    items: list[MemberOut]


class TokenCreate(CamelIn):
    name: Name = "personal access token"
    expires_in_days: int = Field(default=90, ge=1, le=366)


class TokenOut(CamelOut):
    id: str
    name: str
    kind: Literal["session", "personal"]
    prefix: str
    expires_at: Timestamp
    revoked_at: Timestamp | None
    created_at: Timestamp


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once: only a keyed hash is stored")


class TokenList(CamelOut):
    items: list[TokenOut]
