"""Human passwords (members' and staff's): argon2id at the configured cost.

The cost is `LICENSOR_PASSWORD_TIME_COST`, `_MEMORY_KIB` and `_PARALLELISM`; the defaults
are argon2-cffi's, RFC 9106's second recommended profile (3 passes over 64 MiB, 4 lanes).
A stored hash carries its own cost, so every hash still verifies after a change; the new
cost applies to the passwords set from then on. Hashing and verifying run on a thread,
never inside a database transaction (they take tenths of a second on purpose).
"""

from __future__ import annotations

import asyncio
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from licensor.config import Settings


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )

    @classmethod
    def of(cls, settings: Settings) -> Passwords:
        return cls(
            settings.password_time_cost,
            settings.password_memory_kib,
            settings.password_parallelism,
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    @cached_property
    def _decoy(self) -> str:
        return self._hasher.hash("decoy password, never matches anything real")

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """Constant work whether or not the account exists or has a password yet."""
        return await asyncio.to_thread(self._verify, stored, password)
