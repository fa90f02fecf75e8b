"""Per-field form errors: a validation error or a `LicensorError` mapped to the fields.

A handler catches the error and renders its form again with `errors=form_errors(exc)`;
templates show `errors.of("email")` next to the field (the `field` macro in
`_forms.html` does) and `errors.general` above the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from licensor.kit.errors import LicensorError, Unprocessable
from licensor.kit.handlers import describe_validation_errors

M = TypeVar("M", bound=BaseModel)


@dataclass
class FormErrors:
    general: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def of(self, name: str) -> str | None:
        return self.fields.get(name)

    def __bool__(self) -> bool:
        return bool(self.general or self.fields)


def form_errors(
    exc: ValidationError | LicensorError, by_code: Mapping[str, str] | None = None
) -> FormErrors:
    """The errors a form shows. A validation error names its fields (`loc`); a
    `LicensorError` goes to the field `by_code[exc.code]` when given, else above the form."""
    out = FormErrors()
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if loc and loc[0] not in out.fields:
                out.fields[loc[0]] = message
            elif not loc:
                out.general.append(message)
        return out
    name = (by_code or {}).get(exc.code)
    if name:
        out.fields[name] = exc.message
    else:
        out.general.append(exc.message)
    return out


def validated(model: type[M], data: dict[str, object]) -> M:
    """`model` from form data; a validation error becomes a 422 VALIDATION_ERROR page."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(describe_validation_errors(list(exc.errors()))) from exc
