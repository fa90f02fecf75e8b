"""Member credentials: argon2id passwords and bearer tokens kept only as keyed hashes."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from licensor.kit.secrets import random_token

TOKEN_PURPOSE = "member_token"
PREFIXES = {"session": "lks_", "personal": "lkp_", "invite": "lkv_"}

_hasher = PasswordHasher()  # argon2id with the library's default cost


def new_token(kind: str) -> str:
    return PREFIXES[kind] + random_token(32)


def display_prefix(token: str) -> str:
    return token[:8]


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash("decoy password, never matches anything real")


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _decoy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the member exists or has a password yet."""
    return await asyncio.to_thread(_verify, stored, password)
