"""Fixed-window counters for the rate limiter, from the `limits` library.

`LocalCounters` counts in this process (`limits`' fixed-window rule, in a dict).
`SharedCounters` counts in Redis (`limits`' Redis storage, the same keys and
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

from limits import RateLimitItem

log = logging.getLogger("licensor")


class Counters(Protocol):
    def try_hit(self, item: RateLimitItem, key: str, cost: int, shared: bool) -> bool | None:
        """`hit` when it can be decided without I/O (no coroutine on the hot path): True or
        False as `hit` would answer (the cost is then counted), None when only `hit` can
        (nothing is counted)."""

    async def hit(self, item: RateLimitItem, key: str, cost: int, shared: bool = True) -> bool:
        """Add `cost`; False when the count is then over `item.amount`."""

    async def add(self, item: RateLimitItem, key: str, cost: int) -> None:
        """Add `cost` (a failure's surcharge) without deciding anything."""

    async def reset_at(self, item: RateLimitItem, key: str) -> float:
        """When the current window of `key` ends (epoch seconds)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def counter_name(item: RateLimitItem, key: str) -> str:
    """The name `limits`' strategies give the counter of `key` under `item`, built without
    `item.key_for`'s per-call escaping (our keys are already safe: ASCII, no spaces)."""
    return f"LIMITER/{key}/{item.amount}/{item.multiples}/{item.GRANULARITY.name}"


class LocalCounters:
    """Fixed windows in this process's memory, by `limits`' fixed-window rule (a window
    starts with its counter's first hit and lasts the item's expiry), kept in a plain dict
    so that a hit costs a dict lookup: the validate hot path pays for every microsecond
    (`limits`' MemoryStorage and strategy cost about 4 µs a hit, over two hits a request)."""

    SWEEP_EVERY = 4096  # new counters between two sweeps of the expired ones

    def __init__(self) -> None:
        self.counts: dict[str, list[float]] = {}  # key -> [count, end of window]
        self.created = 0

    def sweep(self, now: float) -> None:
        for key in [k for k, (_, end) in self.counts.items() if end <= now]:
            del self.counts[key]

    def count(self, item: RateLimitItem, key: str, cost: int) -> float:
        now = time.time()
        entry = self.counts.get(key)
        if entry is None or entry[1] <= now:
            self.created += 1
            if self.created % self.SWEEP_EVERY == 0:
                self.sweep(now)
            entry = self.counts[key] = [0, now + item.get_expiry()]
        entry[0] += cost
        return entry[0]

    def try_hit(self, item: RateLimitItem, key: str, cost: int, shared: bool) -> bool:
        return self.count(item, key, cost) <= item.amount

    async def hit(self, item: RateLimitItem, key: str, cost: int, shared: bool = True) -> bool:
        return self.count(item, key, cost) <= item.amount

    async def add(self, item: RateLimitItem, key: str, cost: int) -> None:
        self.count(item, key, cost)

    async def reset_at(self, item: RateLimitItem, key: str) -> float:
        entry = self.counts.get(key)
        return entry[1] if entry else time.time() + item.get_expiry()

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
        # Redis's client libraries load only when Redis is configured: importing them costs
        # a process without Redis a third of its start-up.
        from limits.aio.storage import RedisStorage

        self.storage = RedisStorage(redis_storage_uri(url), key_prefix=prefix)
        self.sync_seconds = sync_seconds
        # key -> (count in Redis when last seen, end of that window, epoch seconds)
        self.known: dict[str, tuple[int, float]] = {}
        # key -> (cost not yet sent, window length in seconds)
        self.pending: dict[str, tuple[int, int]] = {}
        self.local = LocalCounters()  # a target's successes, counted in this process only
        self.task: asyncio.Task[None] | None = None

    def _client(self) -> Any:
        bridge: Any = self.storage.bridge  # the coredis bridge: its client and key names
        return bridge.get_connection()

    def _count(self, key: str, now: float) -> int:
        seen = self.known.get(key)
        if seen is None:
            return 0
        if seen[1] <= now:
            del self.known[key]
            return 0
        return seen[0]

    async def _send(self, batch: dict[str, tuple[int, int]]) -> None:
        """Add each cost in Redis (one round trip) and remember the counts and windows."""
        from coredis.tokens import PureToken

        bridge: Any = self.storage.bridge
        pipe = await self._client().pipeline(transaction=True)  # no counter without expiry
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

    def try_hit(self, item: RateLimitItem, key: str, cost: int, shared: bool) -> bool | None:
        """`shared=False`: this cost stays in this process (a target's successes: many
        addresses may rightly use one key, and each address is limited on its own);
        only failures then reach Redis, so a distributed guess is still counted once."""
        name = counter_name(item, key)
        count = self._count(name, time.time())
        if count >= item.amount:
            return False  # known to be over until its window ends: no need to ask Redis
        if not shared:
            return count + self.local.count(item, name, cost) <= item.amount
        waiting = self.pending.get(name)
        total = (waiting[0] if waiting else 0) + cost
        if count + total <= item.amount:
            self.pending[name] = (total, item.get_expiry())
            return True
        return None  # the local view would refuse: Redis decides

    async def hit(self, item: RateLimitItem, key: str, cost: int, shared: bool = True) -> bool:
        decided = self.try_hit(item, key, cost, shared)
        if decided is not None:
            return decided
        name = counter_name(item, key)
        await self._send(self._take(name, cost, item.get_expiry()))
        return self._count(name, time.time()) <= item.amount

    async def add(self, item: RateLimitItem, key: str, cost: int) -> None:
        key = counter_name(item, key)
        await self._send(self._take(key, cost, item.get_expiry()))

    async def reset_at(self, item: RateLimitItem, key: str) -> float:
        seen = self.known.get(counter_name(item, key))
        return seen[1] if seen else time.time() + item.get_expiry()

    async def flush(self) -> None:
        batch, self.pending = self.pending, {}
        if batch:
            await self._send(batch)
        now = time.time()
        for key in [k for k, (_, end) in self.known.items() if end <= now]:
            del self.known[key]
        self.local.sweep(now)

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
