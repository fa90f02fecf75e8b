"""The rules of machines on the public checks: a key's policy (from its product), the
grace rule's verdict, and when a floating seat has gone silent (docs/machines.md).

Pure functions of a key's row and a moment; the hot store (`store.py`) runs the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import orjson

from licensor.verifier.states import State, state_of

UNKNOWN = b'{"valid":false}'  # the answer about a key this face does not know
IN_GRACE = "LICENSE_KEY_IN_GRACE"  # a warning in a 200 answer, never an error code
# `last_heartbeat_at >= NEVER` holds for every instance: a node-locked seat never goes silent.
NEVER = datetime(1, 1, 2, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    """A product's license policy as the checks use it (`product/policy.py` defines it)."""

    floating: bool
    fingerprint_match: str
    interval_seconds: int
    silence: timedelta  # heartbeat interval + grace: silent longer than this, the seat goes
    expiry_grace: timedelta
    grace_valid: bool  # in grace: valid with a warning (True) or invalid

    def cutoff(self, now: datetime) -> datetime:
        """A seat last heard of before this has lost it (NEVER for node-locked keys)."""
        return now - self.silence if self.floating else NEVER

    def holds(self, last_heartbeat_at: datetime, now: datetime) -> bool:
        """Does an instance last heard of at `last_heartbeat_at` still hold its seat?"""
        return last_heartbeat_at >= self.cutoff(now)


@lru_cache(maxsize=4096)
def policy_of(
    license_model: str,
    fingerprint_match: str,
    interval: int,
    grace: int,
    expiry_grace_days: int,
    grace_behaviour: str,
) -> Policy:
    """The policy of the product columns as the key's query returns them (one object per
    distinct policy)."""
    return Policy(
        floating=license_model == "floating",
        fingerprint_match=fingerprint_match,
        interval_seconds=interval,
        silence=timedelta(seconds=interval + grace),
        expiry_grace=timedelta(days=expiry_grace_days),
        grace_valid=grace_behaviour == "valid_with_warning",
    )


Answer = State | str  # a grace state, or "disabled"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What validate answers about a known key: `{"valid", "state", "code"?}`."""

    valid: bool
    state: Answer
    code: str | None
    body: bytes

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {"valid": self.valid, "state": self.state}
        if self.code is not None:
            out["code"] = self.code
        return out


@lru_cache(maxsize=32)
def verdict(valid: bool, state: Answer, code: str | None = None) -> Verdict:
    """The one `Verdict` (and its JSON) of each answer."""
    out: dict[str, object] = {"valid": valid, "state": state}
    if code is not None:
        out["code"] = code
    return Verdict(valid, state, code, orjson.dumps(out))


def term_of(disabled: bool, expires_at: datetime | None, policy: Policy, now: datetime) -> Verdict:
    """The key's own verdict (before any instance is asked about): disabled, or the grace
    rule (`verifier/states.py` `state_of`) with the policy's grace and behaviour."""
    if disabled:
        return verdict(False, "disabled")
    state = state_of(expires_at, policy.expiry_grace, now)
    if state == "valid":
        return verdict(True, "valid")
    if state == "in_grace" and policy.grace_valid:
        return verdict(True, "in_grace", IN_GRACE)
    return verdict(False, state)


def without_seat(term: Verdict) -> Verdict:
    """The answer when the key is fine but the instance asked about holds no seat."""
    return verdict(False, term.state) if term.valid else term
