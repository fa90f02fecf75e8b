"""Staff input and output, shared by the CLI and the console."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from licensor.kit.schemas import Email

Role = Literal["admin", "support", "read_only"]
ROLES: tuple[Role, ...] = ("admin", "support", "read_only")
StaffName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: StaffName = ""
    role: Role
    password: Password | None = None  # None: signs in by single sign-on only


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class StaffOut(BaseModel):
    id: str
    business_id: str
    email: str
    name: str
    role: Role
    password: bool  # whether a password is set (else SSO only)
    created_at: datetime
