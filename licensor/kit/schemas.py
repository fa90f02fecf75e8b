"""Pydantic building blocks shared by the domain schemas."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from licensor.kit.clock import as_utc

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_control)]
UTC = Annotated[datetime, AfterValidator(as_utc)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Metadata = dict[Annotated[str, StringConstraints(max_length=100)], str | FiniteFloat | bool]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Input(BaseModel):
    """Request bodies: unknown fields are ignored, as Dodo does. No string may hold NUL,
    which PostgreSQL cannot store."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("strings must not contain NUL characters")
        return data


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


def provided(model: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body actually sent (left out = unchanged, null = clear)."""
    return {k: getattr(model, k) for k in model.model_fields_set}
