from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from licensor.kit.schemas import Input, Output

PlanCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$"),
]
PlanName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Feature = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PlanCreate(Input):
    code: PlanCode = Field(description="Lower-case letters, digits, `_ . -`; unique per mode.")
    name: PlanName
    features: list[Feature] = Field(default_factory=list, max_length=200)


class PlanUpdate(Input):
    name: PlanName | None = None
    features: list[Feature] | None = Field(default=None, max_length=200)


class PlanOut(Output):
    id: str
    code: str
    name: str
    features: list[str]
    created_at: datetime
    updated_at: datetime
