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
MaxInstances = Annotated[int, Field(strict=True, ge=1, le=100_000)]
MAX_INSTANCES_HELP = (
    "How many cloud instances a subscription may have active at once (activated with its "
    "live code, not revoked); 1 by default, GitLab's model. A subscription may override it."
)


class PlanCreate(Input):
    code: PlanCode = Field(description="Lower-case letters, digits, `_ . -`; unique per mode.")
    name: PlanName
    features: list[Feature] = Field(default_factory=list, max_length=200)
    max_instances: MaxInstances = Field(default=1, description=MAX_INSTANCES_HELP)


class PlanUpdate(Input):
    name: PlanName | None = None
    features: list[Feature] | None = Field(default=None, max_length=200)
    max_instances: MaxInstances | None = Field(default=None, description=MAX_INSTANCES_HELP)


class PlanOut(Output):
    id: str
    code: str
    name: str
    features: list[str]
    max_instances: int
    created_at: datetime
    updated_at: datetime
