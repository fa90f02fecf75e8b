"""A UTC time field for the desk's inputs that turns every out-of-range value into a
422: converting e.g. `9999-12-31T23:59:59-01:00` to UTC overflows the calendar, which
`kit.schemas.UTC` lets escape as a 500."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from licensor.kit.clock import as_utc


def _as_utc(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError as exc:
        raise ValueError("the time is out of range once converted to UTC") from exc


UTCTime = Annotated[datetime, AfterValidator(_as_utc)]
