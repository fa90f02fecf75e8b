"""Member credentials: bearer tokens, kept only as keyed hashes (passwords: argon2id,
`kit/passwords.py`)."""

from __future__ import annotations

from licensor.kit.secrets import random_token

TOKEN_PURPOSE = "member_token"
PREFIXES = {"session": "lks_", "personal": "lkp_", "invite": "lkv_"}


def new_token(kind: str) -> str:
    return PREFIXES[kind] + random_token(32)


def display_prefix(token: str) -> str:
    return token[:8]
