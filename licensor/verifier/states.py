"""The grace rule: which state a license is in at a moment, online and offline alike.

The server's checks (`/licenses/validate|activate|heartbeat`, the instance check-in) and
`verify_license_file` all call `state_of`, so a license is in the same state wherever it
is judged (docs/machines.md, "Grace and expiry"):

- `valid`: no expiry, or before it (`now < expires_at`);
- `in_grace`: from the expiry until the grace period has passed
  (`expires_at <= now < expires_at + grace`);
- `expired`: from then on. With no grace (`timedelta(0)`) a license is expired from the
  very instant of its `expires_at`.

What a state means is the caller's: a product's policy says whether `in_grace` is still
valid (with a warning) or not; `verify_license_file` returns the state with the payload
and raises `Expired` only for `expired`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .payload import LicensePayload

State = Literal["valid", "in_grace", "expired"]
STATES: tuple[State, ...] = ("valid", "in_grace", "expired")


def state_of(expires_at: datetime | None, grace: timedelta, now: datetime) -> State:
    """The state at `now` of a license that expires at `expires_at` (None: never) and
    stays usable for `grace` after that. Times are timezone-aware."""
    if expires_at is None or now < expires_at:
        return "valid"
    try:
        ends = expires_at + grace
    except OverflowError:  # a grace period past the end of the calendar: never over
        return "in_grace"
    return "in_grace" if now < ends else "expired"


@dataclass(frozen=True)
class VerifiedPayload(LicensePayload):
    """What `verify_license_file` returns: the payload, and its state at the moment it
    was checked (`valid` or `in_grace`; `expired` raises, or shows with
    `check_times=False`)."""

    state: State
