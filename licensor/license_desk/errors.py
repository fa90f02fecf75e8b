"""Errors of the license desk that carry more than a code and a message."""

from __future__ import annotations

from typing import Any

from licensor.kit.errors import Unprocessable


class FieldsMissing(Unprocessable):
    """Every missing required field at once, in `fields` and in the message."""

    code = "LICENSE_FIELDS_MISSING"

    def __init__(self, license_type: str | None, fields: list[str]) -> None:
        kind = license_type or "a"
        super().__init__(f"{kind} license needs these fields: {', '.join(fields)}")
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {**super().body(), "fields": self.fields}
