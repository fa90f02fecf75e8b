"""Organisation members and their tokens: JSON in camelCase, as the Storno API writes it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
)

from licensor.kit.camel import CamelIn, CamelOut, Timestamp
from licensor.kit.schemas import Email, Id, Name

Role = Literal["owner", "admin", "member"]
GrantableRole = Literal["admin", "member"]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=300)]


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
