"""Pydantic building blocks shared by the domain schemas."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    FiniteFloat,
    StringConstraints,
    model_validator,
)

from licensor.kit.clock import as_utc

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_email(value: str) -> str:
    """The `Email` rule: trimmed, one `@`, a dot in the domain, no whitespace."""
    value = value.strip()
    if not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(check_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """A C0 control character or DEL anywhere in `value`."""
    return CONTROL_CHARACTERS.search(value) is not None


def _no_control(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("control characters are not allowed")
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_control)]


# A client's nonce for a signed answer (validate, the check-in): 16-128 characters of
# base64, base64url, hex or a UUID, so it reads the same in every log and JSON encoder.
Nonce = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._~+/=-]{16,128}$")]


def _utc(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-01:00 has no UTC equivalent
        raise ValueError("the time is out of range once converted to UTC") from exc


UTC = Annotated[datetime, AfterValidator(_utc)]
# Finite floats only: JSON (and PostgreSQL) have no Infinity or NaN.
Metadata = dict[Annotated[str, StringConstraints(max_length=100)], str | FiniteFloat | bool]


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    try:
        orjson.dumps(value)  # integers past 64 bits, nesting too deep
        json.dumps(value, allow_nan=False)  # Infinity, NaN
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not storable as JSON: {exc}") from exc
    return value


# A free-form JSON object that can be stored and returned (Python ints are unbounded).
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_safe)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


_SCALARS = frozenset({int, float, bool, datetime})


class Input(BaseModel):
    """Request bodies: unknown fields are ignored, as Dodo does."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="after")
    def _no_nul_characters(self) -> Self:
        # PostgreSQL text cannot hold NUL: refuse it here (422) rather than fail in the DB (500).
        # `__dict__` holds exactly the fields; plain strings and scalars are checked inline
        # (an import validates a million rows through its subclass).
        for name, value in self.__dict__.items():
            kind = value.__class__
            if kind is str:
                if "\x00" not in value:
                    continue
            elif value is None or kind in _SCALARS or not _has_nul(value):
                continue
            raise ValueError(f"{name} must not contain NUL characters")
        return self


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


def provided(model: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body actually sent (left out = unchanged, null = clear)."""
    return {k: getattr(model, k) for k in model.model_fields_set}
