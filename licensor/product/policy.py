"""A product's license policy: how its license keys hold machines, and their grace.

Stored as columns of `products` and read live by the public checks (one join with the
key's row), so a change applies to every key of the product at its next check
(docs/machines.md):

- `license_model`: `node_locked` (the default, Dodo's behaviour: an activation holds its
  seat until it is deactivated or released) or `floating` (a seat is held only while its
  machine sends heartbeats).
- `fingerprint_match`: how an activation's `fingerprint` is compared (`exact`,
  `case_insensitive`, `normalised`; `fingerprint_key`).
- `heartbeat_interval_seconds`, `heartbeat_grace_seconds`: a floating seat whose machine
  has been silent for longer than their sum is freed.
- `expiry_grace_days`, `grace_behaviour`: after `expires_at` a key is `in_grace` for this
  many days, and is then either still valid with a warning or already invalid.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from licensor.kit.schemas import Input

LicenseModel = Literal["node_locked", "floating"]
FingerprintMatch = Literal["exact", "case_insensitive", "normalised"]
GraceBehaviour = Literal["valid_with_warning", "invalid"]

DEFAULT_INTERVAL = 600
DEFAULT_GRACE = 120
MAX_HEARTBEAT_SECONDS = 7 * 86400
MAX_GRACE_DAYS = 3650

IntervalSeconds = Annotated[int, Field(ge=1, le=MAX_HEARTBEAT_SECONDS)]
GraceSeconds = Annotated[int, Field(ge=0, le=MAX_HEARTBEAT_SECONDS)]
GraceDays = Annotated[int, Field(ge=0, le=MAX_GRACE_DAYS)]

# What a machine sends as its fingerprint: a hash, a UUID, a MAC address, base64…
# starting with a letter or digit, then letters, digits and `. _ : + / = -`.
FINGERPRINT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,199}$"
Fingerprint = Annotated[str, StringConstraints(pattern=FINGERPRINT_PATTERN)]
SEPARATORS = re.compile(r"[-_.:]")


def fingerprint_key(fingerprint: str, match: str) -> str:
    """The form a fingerprint is stored and compared in, under the product's rule:
    `exact` as sent; `case_insensitive` in lower case; `normalised` in lower case with
    the separators `- _ . :` removed (`AA:BB-cc` and `aabbcc` are one machine)."""
    if match == "exact":
        return fingerprint
    folded = fingerprint.lower()
    if match == "case_insensitive":
        return folded
    return SEPARATORS.sub("", folded) or folded


class LicensePolicy(BaseModel):
    """A product's license policy as the API answers it."""

    license_model: LicenseModel = "node_locked"
    fingerprint_match: FingerprintMatch = "exact"
    heartbeat_interval_seconds: IntervalSeconds = DEFAULT_INTERVAL
    heartbeat_grace_seconds: GraceSeconds = DEFAULT_GRACE
    expiry_grace_days: GraceDays = 0
    grace_behaviour: GraceBehaviour = "valid_with_warning"


class LicensePolicyIn(LicensePolicy, Input):
    """`license_policy` on `POST /products`: every field optional, defaults above."""


class LicensePolicyUpdate(Input):
    """`license_policy` on `PATCH /products/{id}`: the fields sent change, the rest stay."""

    license_model: LicenseModel | None = None
    fingerprint_match: FingerprintMatch | None = None
    heartbeat_interval_seconds: IntervalSeconds | None = None
    heartbeat_grace_seconds: GraceSeconds | None = None
    expiry_grace_days: GraceDays | None = None
    grace_behaviour: GraceBehaviour | None = None


POLICY_FIELDS = tuple(LicensePolicy.model_fields)
