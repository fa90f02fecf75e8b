"""Identifiers: a short type prefix and 24 random base32 characters (Dodo-style `cus_…`)."""

from __future__ import annotations

import base64
import os
import time
import uuid


def new_id(prefix: str) -> str:
    body = base64.b32encode(os.urandom(15)).decode().lower()
    return f"{prefix}_{body}"


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids like `new_id`, from one draw of randomness (15 bytes each: 24 base32
    characters, no padding) instead of one system call and one encoding per id."""
    body = base64.b32encode(os.urandom(15 * count)).decode().lower()
    return [f"{prefix}_{body[i : i + 24]}" for i in range(0, 24 * count, 24)]


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
