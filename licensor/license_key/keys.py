"""Generating keys in a product's format, status at read time, and key durations."""

from __future__ import annotations

import base64
import calendar
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["active", "expired", "disabled"]
LOOKUP_PURPOSE = "license_key"


def generate_key(key_format: str, prefix: str | None) -> str:
    """A new random key: grouped base32 (125 bits), a UUIDv4, or 64 hex (256 bits)."""
    if key_format == "uuid":
        return str(uuid.uuid4())
    if key_format == "hex64":
        return secrets.token_hex(32)
    body = base64.b32encode(secrets.token_bytes(20)).decode()[:25]
    groups = [body[i : i + 5] for i in range(0, 25, 5)]
    return "-".join(([prefix] if prefix else []) + groups)


def status_of(disabled: bool, expires_at: datetime | None, now: datetime) -> Status:
    if disabled:
        return "disabled"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def _add_months(start: datetime, months: int) -> datetime:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def expiry_after(start: datetime, count: int, interval: str) -> datetime:
    if interval == "Day":
        return start + timedelta(days=count)
    if interval == "Week":
        return start + timedelta(weeks=count)
    if interval == "Month":
        return _add_months(start, count)
    if interval == "Year":
        return _add_months(start, 12 * count)
    raise ValueError(f"unknown interval {interval!r}")
