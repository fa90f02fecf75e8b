"""Fixed-window counters for the rate limiter, from the `limits` library.

`LocalCounters` counts in this process (`limits`' memory storage and fixed-window
strategy). `SharedCounters` counts in Redis (`limits`' Redis storage, the same keys and
window rule: a counter's expiry is set when it is created), so every process and machine
on that Redis sees one count. To keep a Redis round trip off every request, a request's
first unit of cost is added to a local pending count that a background task sends in one
pipeline every `sync_seconds` (a target's successes stay in the process: see `hit`); a
failure's surcharge, and any request the local view would refuse, go to Redis at once.
So guessing (failures) is counted across processes as it happens (each process may let
one more through than the shared count allows); honest traffic can overshoot an address
limit by at most what it sends in one sync interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from coredis.tokens import PureToken
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

log = logging.getLogger("licensor")


class Counters(Protocol):
    async def hit(self, item: RateLimitItem, key: str, cost: int, shared: bool = True) -> bool:
        """Add `cost`; False when the count is then over `item.amount`."""

    async def add(self, item: RateLimitItem, key: str, cost: int) -> None:
        """Add `cost` (a failure's surcharge) without deciding anything."""

    async def reset_at(self, item: RateLimitItem, key: str) -> float:
        """When the current window of `key` ends (epoch seconds)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalCounters:
    """Counters in this process's memory."""

    def __init__(self) -> None:
        self.limiter = FixedWindowRateLimiter(MemoryStorage())

    async def hit(self, item: RateLimitItem, key: str, cost: int, shared: bool = True) -> bool:
        return await self.limiter.hit(item, key, cost=cost)

    async def add(self, item: RateLimitItem, key: str, cost: int) -> None:
        await self.limiter.hit(item, key, cost=cost)

    async def reset_at(self, item: RateLimitItem, key: str) -> float:
        return (await self.limiter.get_window_stats(item, key)).reset_time

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def redis_storage_uri(url: str) -> str:
    """`limits`' async scheme for a redis:// or rediss:// URL."""
    return url if url.startswith("async+") else "async+" + url


class SharedCounters:
    """Counters in Redis, with a local pending count flushed every `sync_seconds`."""

    def __init__(self, url: str, prefix: str, sync_seconds: float) -> None:
        self.storage = RedisStorage(redis_storage_uri(url), key_prefix=prefix)
        self.sync_seconds = sync_seconds
        # key -> (count in Redis when last seen, end of that window, epoch seconds)
        self.known: dict[str, tuple[int, float]] = {}
        # key -> (cost not yet sent, window length in seconds)
        self.pending: dict[str, tuple[int, int]] = {}
        # key -> (successes counted in this process only, end of their window)
        self.local: dict[str, tuple[int, float]] = {}
        self.task: asyncio.Task[None] | None = None

    def _client(self) -> Any:
        bridge: Any = self.storage.bridge  # the coredis bridge: its client and key names
        return bridge.get_connection()

    @staticmethod
    def _current(table: dict[str, tuple[int, float]], key: str, now: float) -> int:
        seen = table.get(key)
        if seen is None:
            return 0
        if seen[1] <= now:
            del table[key]
            return 0
        return seen[0]

    def _count(self, key: str, now: float) -> int:
        return self._current(self.known, key, now)

    async def _send(self, batch: dict[str, tuple[int, int]]) -> None:
        """Add each cost in Redis (one round trip) and remember the counts and windows."""
        bridge: Any = self.storage.bridge
        pipe = await self._client().pipeline(transaction=False)
        for key, (cost, expiry) in batch.items():
            name = bridge.prefixed_key(key)
            pipe.incrby(name, cost)
            pipe.expire(name, expiry, PureToken.NX)
            pipe.pttl(name)
        replies = await pipe.execute()
        now = time.time()
        for i, key in enumerate(batch):
            count, ttl_ms = int(replies[3 * i]), int(replies[3 * i + 2])
            window = ttl_ms / 1000 if ttl_ms > 0 else batch[key][1]
            self.known[key] = (count, now + window)

    def _take(self, key: str, cost: int, expiry: int) -> dict[str, tuple[int, int]]:
        waiting = self.pending.pop(key, None)
        return {key: ((waiting[0] if waiting else 0) + cost, expiry)}

    async def hit(self, item: RateLimitItem, key: str, cost: int, shared: bool = True) -> bool:
        """`shared=False`: this cost stays in this process (a target's successes: many
        addresses may rightly use one key, and each address is limited on its own);
        only failures then reach Redis, so a distributed guess is still counted once."""
        key = item.key_for(key)  # the name `limits`' own strategies give this counter
        now = time.time()
        count = self._count(key, now)
        if count >= item.amount:
            return False  # known to be over until its window ends: no need to ask Redis
        if not shared:
            mine = self._current(self.local, key, now) + cost
            end = self.local[key][1] if key in self.local else now + item.get_expiry()
            self.local[key] = (mine, end)
            return count + mine <= item.amount
        waiting = self.pending.get(key)
        total = (waiting[0] if waiting else 0) + cost
        if count + total <= item.amount:
            self.pending[key] = (total, item.get_expiry())
            return True
        await self._send(self._take(key, cost, item.get_expiry()))
        return self._count(key, time.time()) <= item.amount

    async def add(self, item: RateLimitItem, key: str, cost: int) -> None:
        key = item.key_for(key)
        await self._send(self._take(key, cost, item.get_expiry()))

    async def reset_at(self, item: RateLimitItem, key: str) -> float:
        seen = self.known.get(item.key_for(key))
        return seen[1] if seen else time.time() + item.get_expiry()

    async def flush(self) -> None:
        batch, self.pending = self.pending, {}
        if batch:
            await self._send(batch)
        now = time.time()
        for table in (self.known, self.local):
            for key in [k for k, (_, end) in table.items() if end <= now]:
                del table[key]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.flush()
            except Exception:  # Redis away: keep counting locally, retry next tick
                log.warning("rate-limit counters: cannot reach Redis", exc_info=True)

    async def start(self) -> None:
        if not await self.storage.check():  # said once at start-up; requests then fail open
            log.error("rate-limit counters: Redis does not answer; limits are not enforced")
        self.task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        with contextlib.suppress(Exception):
            await self.flush()
