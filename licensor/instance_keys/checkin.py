"""The rules of a check-in: the key, the organisation's current plan, a signed answer.

The answer is `{"license": {...}, "kid", "alg": "EdDSA", "signature"}`; the signature is
Ed25519 over the canonical encoding of `license` (keys sorted at every level, no
whitespace, UTF-8), made with the business's active signing key for the key's mode
(the process's `HotSigner`, which caches the decrypted key per business and mode).
With a client `nonce`, `license` also echoes it with `licenseKeyDigest` (HMAC-SHA256 of
the key, keyed with the nonce), and that answer is made afresh (never from the memo).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from licensor.config import Settings
from licensor.instance_keys.schemas import CheckinIn
from licensor.instance_keys.service import KEY_PURPOSE
from licensor.instance_keys.store import CheckinRow, CheckinStore, checkin_store
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.errors import Unauthorized
from licensor.kit.secrets import constant_time_equal
from licensor.signing import service as signing_service
from licensor.signing.hot import HotSigner
from licensor.verifier import license_key_digest
from licensor.verifier.states import State, state_of

KEY_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_REMEMBERED = 10_000


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def canonical(payload: dict[str, Any]) -> bytes:
    """The signed bytes: JSON, keys sorted at every level, no whitespace, UTF-8."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def subscription_status(row: CheckinRow, now: datetime) -> str | None:
    sub = row.subscription
    if sub is None:
        return None
    if sub.cancelled_at is not None:
        return "cancelled"
    if sub.expires_at is not None and sub.expires_at <= now:
        return "expired"
    return "active"


def term_state(row: CheckinRow, now: datetime, expiry_grace: timedelta) -> State | None:
    """The grace rule (`verifier/states.py`, as the license-key checks and the offline
    verifier apply it) on the current subscription; None without one, for a revoked key,
    or a cancelled subscription (the status says which)."""
    sub = row.subscription
    if sub is None or row.revoked_at is not None or sub.cancelled_at is not None:
        return None
    return state_of(sub.expires_at, expiry_grace, now)


def answer(
    row: CheckinRow,
    body: CheckinIn,
    now: datetime,
    grace: timedelta,
    expiry_grace: timedelta = timedelta(0),
) -> dict[str, Any]:
    sub_state = subscription_status(row, now)
    term = term_state(row, now, expiry_grace)
    if row.revoked_at is not None:
        state = "key_revoked"
    elif sub_state is None:
        state = "no_subscription"
    elif term == "in_grace":  # expired, but within LICENSOR_CHECKIN_EXPIRY_GRACE_SECONDS
        state = "subscription_in_grace"
    else:
        state = "active" if sub_state == "active" else f"subscription_{sub_state}"
    active = state in ("active", "subscription_in_grace")
    sub = row.subscription
    valid_until = now
    if active and sub is not None:
        valid_until = now + grace
        if sub.expires_at is not None:
            with contextlib.suppress(OverflowError):  # past year 9999: the offline grace alone
                valid_until = min(valid_until, sub.expires_at + expiry_grace)
    subscription = None
    if sub is not None and row.revoked_at is None:
        subscription = {
            "id": sub.id,
            "status": sub_state,
            "startsAt": iso(sub.starts_at),
            "expiresAt": iso(sub.expires_at),
            "cancelledAt": iso(sub.cancelled_at),
            "usersCount": sub.users_count,
            "plan": {
                "id": sub.plan.id,
                "code": sub.plan.code,
                "name": sub.plan.name,
                "features": sub.plan.features,
            },
        }
    return {
        "active": active,
        "status": state,
        "state": term,
        "licenseKeyId": row.key_id,
        "businessId": row.business_id,
        "mode": row.mode,
        "organization": {"id": row.org_id, "name": row.org_name},
        "subscription": subscription,
        "instanceId": body.instance_id,
        "version": body.version,
        "issuedAt": iso(now),
        "validUntil": iso(valid_until),
    }


def _signed(signed: bytes, kid: str, sign: Callable[[bytes], bytes]) -> bytes:
    tail = {"kid": kid, "alg": "EdDSA", "signature": signing_service.b64url(sign(signed))}
    # the license goes out in its canonical form: the bytes that were signed
    return b'{"license":' + signed + b"," + orjson.dumps(tail)[1:]


class Checkins:
    def __init__(
        self, store: CheckinStore, ctx: AppContext, settings: Settings, signer: HotSigner
    ) -> None:
        self.store = store
        self.ctx = ctx
        self.settings = settings
        self.signer = signer
        self._recorded: dict[str, tuple[float, str | None, str | None]] = {}
        self._answers: dict[tuple[Any, ...], bytes] = {}

    async def _record(self, key_id: str, now: datetime, body: CheckinIn) -> None:
        """Write the last check-in; at most once per interval per process unless it changed."""
        clock = time.monotonic()
        last = self._recorded.get(key_id)
        if (
            last is not None
            and clock - last[0] < self.settings.checkin_record_interval_seconds
            and (body.version is None or body.version == last[1])
            and (body.instance_id is None or body.instance_id == last[2])
        ):
            return
        await self.store.record(key_id, now, body.version, body.instance_id)
        if len(self._recorded) >= MAX_REMEMBERED:
            self._recorded.clear()
        version = body.version if body.version is not None else (last[1] if last else None)
        instance = body.instance_id if body.instance_id is not None else (last[2] if last else None)
        self._recorded[key_id] = (clock, version, instance)

    async def check_in(self, authorization: str | None, body: CheckinIn, mode: str) -> bytes:
        if not authorization:
            raise Unauthorized(
                "missing license key: send `Authorization: Bearer <license key>`",
                code="MISSING_LICENSE_KEY",
            )
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip().lower()
        if scheme.lower() != "bearer" or not KEY_RE.match(secret):
            raise Unauthorized("invalid license key", code="INVALID_LICENSE_KEY")
        digest = self.ctx.vault.lookup_hash(secret, KEY_PURPOSE)
        # one-second resolution: the answer is then a pure function of (database row,
        # request, second, signing key), so identical check-ins within a second reuse it
        now = utcnow().replace(microsecond=0)
        row = await self.store.find(digest, now)
        if row is None or not constant_time_equal(row.key_hash, digest) or row.mode != mode:
            raise Unauthorized("invalid license key", code="INVALID_LICENSE_KEY")
        await self._record(row.key_id, now, body)
        kid, private = await self.signer.key(row.business_id, row.mode)
        grace = timedelta(seconds=self.settings.checkin_grace_seconds)
        expiry_grace = timedelta(seconds=self.settings.checkin_expiry_grace_seconds)
        if body.nonce is not None:  # a fresh answer for this request alone: not memoised
            fresh = answer(row, body, now, grace, expiry_grace)
            fresh["nonce"] = body.nonce
            fresh["licenseKeyDigest"] = license_key_digest(body.nonce, secret)
            return _signed(canonical(fresh), kid, private.sign)
        memo = (row, body.instance_id, body.version, now, kid)
        found = self._answers.get(memo)
        if found is not None:
            return found
        out = _signed(canonical(answer(row, body, now, grace, expiry_grace)), kid, private.sign)
        if len(self._answers) >= MAX_REMEMBERED:
            self._answers.clear()
        self._answers[memo] = out
        return out


async def checkins_for(state: Any) -> Checkins:
    """The process's check-in service, made on first use from the app's context and its
    hot-path connections (both opened and closed by the app's lifespan)."""
    found: Checkins | None = getattr(state, "instance_checkins", None)
    if found is None:
        ctx: AppContext = state.ctx
        signer: HotSigner = state.signer
        store = checkin_store(state.hot, ctx.settings.validate_cache_seconds)
        found = Checkins(store, ctx, ctx.settings, signer)
        state.instance_checkins = found
    return found


def close_checkins(state: Any) -> None:
    state.instance_checkins = None
