"""Schema bases of the camelCase APIs (organisations, instance keys: the Storno API's form)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel


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
