"""Rate limits for the routes anyone may call, and for sign-in: one policy table.

Before any work, a request is counted twice: per client address and per target (the
license key, instance key, activation code, account or invite it names, as a keyed hash:
no secret reaches a counter's name). A request costs 1; one that fails (unknown key or
code, wrong password, `{"valid": false}`) costs `rate_limit_failure_cost` in all. Over
either limit the answer is 429 RATE_LIMITED with Retry-After, before the database or
argon2 is touched. Counters: `kit/ratecounters.py` (memory, or Redis when configured).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from limits import RateLimitItem, parse
from starlette.requests import Request
from starlette.types import Scope

from licensor.config import Settings
from licensor.kit.errors import LicensorError, RateLimited
from licensor.kit.ratecounters import Counters, LocalCounters, SharedCounters
from licensor.kit.secrets import Vault

log = logging.getLogger("licensor")

# policy: (setting per client address, setting per target, what the target is)
POLICIES: dict[str, tuple[str, str, str]] = {
    "license": ("rate_limit_license_address", "rate_limit_license_key", "license key"),
    "checkin": ("rate_limit_checkin_address", "rate_limit_checkin_key", "instance key"),
    "cloud": ("rate_limit_cloud_address", "rate_limit_cloud_code", "activation code"),
    "login": ("rate_limit_login_address", "rate_limit_login_account", "account"),
    "invite": ("rate_limit_login_address", "rate_limit_login_account", "invite"),
    "jwks": ("rate_limit_jwks_address", "rate_limit_jwks_business", "business"),
}
# Answers that mean "that key / code / password is wrong": a guess that missed.
FAILURE_STATUSES = frozenset({401, 403, 404})
Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class Policy:
    name: str
    per_address: RateLimitItem
    per_target: RateLimitItem
    target: str


@dataclass(slots=True)
class Admission:
    policy: Policy
    address_key: str
    target_key: str


def trusted_networks(text: str) -> tuple[Network, ...]:
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


@lru_cache(maxsize=8192)
def address_group(text: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64 (one host's share)."""
    try:
        addr = ip_address(text.strip())
    except ValueError:
        return text[:64]
    if addr.version == 6:
        mapped = addr.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ip_network(f"{addr}/64", strict=False))
    return str(addr)


@lru_cache(maxsize=8192)
def _within(text: str, networks: tuple[Network, ...]) -> bool:
    try:
        addr = ip_address(text.strip())
    except ValueError:
        return False
    return any(addr in net for net in networks)


def client_ip(scope: Scope, proxies: tuple[Network, ...]) -> str:
    """The socket peer; when that peer is a trusted proxy, the nearest address in
    X-Forwarded-For that is not one (so a client cannot forge its way past the proxy)."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if not proxies or not _within(peer, proxies):
        return peer
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
    hops = [h.strip() for h in ",".join(values).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, proxies):
            return hop[:64]
    return (hops[0] if hops else peer)[:64]


def client_address(scope: Scope, proxies: tuple[Network, ...]) -> str:
    """What the limits count a client as: `client_ip`'s IPv4 address or IPv6 /64."""
    return address_group(client_ip(scope, proxies))


class RateLimiter:
    """One per process: the policies, the counters, and the vault that names targets."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits
        self.failure_cost = settings.rate_limit_failure_cost
        self.policies = {
            name: Policy(name, parse(getattr(settings, a)), parse(getattr(settings, t)), what)
            for name, (a, t, what) in POLICIES.items()
        }
        self.proxies = trusted_networks(settings.trusted_proxies)
        self.counters: Counters = LocalCounters()
        if settings.redis_url:
            sync = settings.rate_limit_sync_seconds
            self.counters = SharedCounters(settings.redis_url, settings.redis_prefix, sync)
        self._namer: Any = None  # keyed BLAKE2b naming targets, once started
        self._warned = 0.0

    async def start(self, vault: Vault) -> None:
        # A target is named by a keyed hash (the key derived from the server secret), so
        # no key, code, token or email reaches a counter in clear.
        key = vault.lookup_hash("counter names", "rate_limit")
        self._namer = hashlib.blake2b(key=key, digest_size=16)
        if self.enabled:
            await self.counters.start()

    async def close(self) -> None:
        if self.enabled:
            await self.counters.close()

    def _target(self, policy: str, secret: str) -> str:
        if self._namer is None:
            raise RuntimeError("the rate limiter is not started (lifespan not started)")
        named = self._namer.copy()
        named.update(f"{policy}\x00{secret}".encode())
        return str(named.hexdigest())

    def _unavailable(self) -> None:
        now = time.monotonic()
        if now - self._warned > 10:
            self._warned = now
            log.warning("rate-limit counters unavailable: admitting", exc_info=True)

    async def _settle(
        self, decided: bool | None, item: RateLimitItem, key: str, where: str, shared: bool
    ) -> None:
        """After the counters' `try_hit`: ask them (None), admit (True) or refuse (False)."""
        try:
            if decided is None:
                decided = await self.counters.hit(item, key, 1, shared)
            if decided:
                return
            reset = await self.counters.reset_at(item, key)
        except Exception:  # counters unreachable: serve rather than refuse everyone
            self._unavailable()
            return
        after = math.ceil(reset - time.time())
        raise RateLimited(
            f"too many requests {where}; retry in {max(1, after)} s",
            limit=item.amount,
            retry_after=after,
        )

    async def admit(self, policy: str, scope: Scope, target: str) -> Admission | None:
        """Count one request; RateLimited when its address or its target is over a limit.
        Decided without a coroutine whenever the counters can (memory counters always)."""
        if not self.enabled:
            return None
        p = self.policies[policy]
        address_key = p.name + "/a/" + client_address(scope, self.proxies)
        decided = self.counters.try_hit(p.per_address, address_key, 1, True)
        if decided is not True:
            await self._settle(decided, p.per_address, address_key, "from this address", True)
        target_key = p.name + "/t/" + self._target(p.name, target)
        decided = self.counters.try_hit(p.per_target, target_key, 1, False)
        if decided is not True:
            await self._settle(decided, p.per_target, target_key, f"for this {p.target}", False)
        return Admission(p, address_key, target_key)

    async def failed(self, admission: Admission | None) -> None:
        """The admitted request failed: charge the rest of a failure's cost."""
        if admission is None or self.failure_cost <= 1:
            return
        extra = self.failure_cost - 1
        try:
            await self.counters.add(admission.policy.per_address, admission.address_key, extra)
            await self.counters.add(admission.policy.per_target, admission.target_key, extra)
        except Exception:
            self._unavailable()

    async def failed_on(self, admission: Admission | None, exc: LicensorError) -> None:
        if exc.status_code in FAILURE_STATUSES:
            await self.failed(admission)


def error_headers(exc: LicensorError) -> tuple[tuple[bytes, bytes], ...]:
    """An error's extra headers, as the thin ASGI handlers send them."""
    return tuple((k.lower().encode(), v.encode()) for k, v in exc.headers().items())


class Outcome:
    """Set `failed` inside `limited(...)` when the request failed without raising."""

    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed = False


@asynccontextmanager
async def limited(request: Request, policy: str, target: str) -> AsyncIterator[Outcome]:
    """For FastAPI routes: admit (or 429) before the body, charge a failure after it."""
    limiter: RateLimiter = request.app.state.rate_limiter
    admission = await limiter.admit(policy, request.scope, target)
    outcome = Outcome()
    try:
        yield outcome
    except LicensorError as exc:
        await limiter.failed_on(admission, exc)
        raise
    if outcome.failed:
        await limiter.failed(admission)
