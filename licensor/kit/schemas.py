"""Pydantic building blocks shared by the domain schemas."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from licensor.kit.clock import as_utc

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
UTC = Annotated[datetime, AfterValidator(as_utc)]
Metadata = dict[Annotated[str, StringConstraints(max_length=100)], str | float | bool]


class Input(BaseModel):
    """Request bodies: unknown fields are ignored, as Dodo does."""

    model_config = ConfigDict(extra="ignore")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


def provided(model: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body actually sent (left out = unchanged, null = clear)."""
    return {k: getattr(model, k) for k in model.model_fields_set}
