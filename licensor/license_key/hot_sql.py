"""The statements and rows of the public checks' raw store (`store.py`, `store_postgres.py`),
with the audit events and webhook payloads their transactions write.

Statements are written once with `{0}`, `{1}`… and rendered per driver
(`kit/hotstore.py`); `{subscribers}` is the webhook subquery (`webhooks/hot.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from licensor.audit.chain import Draft, changes_of, event_id
from licensor.kit.hotstore import render
from licensor.kit.origin import Origin
from licensor.license_key.machines import Policy, policy_of
from licensor.webhooks.events import INSTANCE_ACTIVATED, INSTANCE_DEACTIVATED, INSTANCE_RELEASED
from licensor.webhooks.hot import INSERT_DELIVERY, subscribers

KEY_COLUMNS = (
    "k.id, k.business_id, k.mode, k.customer_id, k.product_id, k.key_hash, k.disabled, "
    "k.expires_at, p.license_model, p.fingerprint_match, p.heartbeat_interval_seconds, "
    "p.heartbeat_grace_seconds, p.expiry_grace_days, p.grace_behaviour"
)  # `key_row`'s
FIND_KEY = (
    f"SELECT {KEY_COLUMNS} "
    "FROM license_keys k JOIN products p ON p.id = k.product_id WHERE k.key_hash = {0}"
)
# An activation's key with what its answer shows of the customer and the product
# (`Details`): one statement instead of the key's and then the details'.
FIND_SEATABLE = (
    f"SELECT {KEY_COLUMNS}, c.email, c.name, c.phone_number, c.metadata, p.name "
    "FROM license_keys k JOIN products p ON p.id = k.product_id "
    "JOIN customers c ON c.id = k.customer_id WHERE k.key_hash = {0}"
)
FIND_INSTANCE = (
    "SELECT id, last_heartbeat_at FROM license_key_instances "
    "WHERE id = {0} AND license_key_id = {1}"
)
FIND_FINGERPRINT = (
    "SELECT id, last_heartbeat_at FROM license_key_instances "
    "WHERE fingerprint = {0} AND license_key_id = {1}"
)
TAKE_SEAT = (
    "UPDATE license_keys SET instances_count = instances_count + 1 WHERE id = {0} "
    "AND (activations_limit IS NULL OR instances_count < activations_limit) RETURNING id"
)
# Activation and deactivation queue their webhook event in their own transaction: the
# seat's statement also returns who listens (webhooks/hot.py), at no extra round trip.
TAKE_SEAT_LISTENED = TAKE_SEAT + ", {subscribers}"
FREE_SEAT = (
    "UPDATE license_keys SET instances_count = instances_count - 1 "
    "WHERE id = {0} AND instances_count > 0"
)
FREE_SEATS = "UPDATE license_keys SET instances_count = instances_count - {0} WHERE id = {1}"
# The machine's own seat, when it activates again: the same instance, heard of now.
REUSE = (
    "UPDATE license_key_instances SET last_heartbeat_at = {0} "
    "WHERE license_key_id = {1} AND fingerprint = {2} RETURNING id, name, created_at"
)
# A concurrent activation of the same fingerprint that committed first makes this insert
# nothing (the unique index): the transaction rolls back and starts again, reusing it.
INSERT_INSTANCE = (
    "INSERT INTO license_key_instances (id, business_id, mode, license_key_id, name, "
    "fingerprint, created_at, last_heartbeat_at) VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}) "
    "ON CONFLICT (license_key_id, fingerprint) DO NOTHING RETURNING id"
)
DELETE_INSTANCE = (
    "DELETE FROM license_key_instances WHERE id = {0} AND license_key_id = {1} "
    "RETURNING id, name, created_at, fingerprint, last_heartbeat_at, {subscribers}"
)
# The silent seats of one key: the delete is the check, so each is freed exactly once.
REAP = (
    "DELETE FROM license_key_instances WHERE license_key_id = {0} AND last_heartbeat_at < {1} "
    "RETURNING id, name, created_at, fingerprint, last_heartbeat_at, {subscribers}"
)
HEARTBEAT = (
    "UPDATE license_key_instances SET last_heartbeat_at = {0} "
    "WHERE id = {1} AND license_key_id = {2} AND last_heartbeat_at >= {3} RETURNING created_at"
)
DETAILS = (
    "SELECT c.id, c.email, c.name, c.phone_number, c.metadata, p.id, p.name "
    "FROM customers c, products p WHERE c.id = {0} AND p.id = {1}"
)
REAPER = "system:seat_reaper"


@dataclass(frozen=True, slots=True)
class Statements:
    """The store's statements rendered for one driver's placeholders (`statements`)."""

    find: str
    find_seatable: str
    has: str
    has_print: str
    details: str
    take: str
    delete: str
    reap: str
    reuse: str
    insert: str
    free: str
    free_many: str
    beat: str
    queue: str
    claim: str  # an air-gapped machine's request, taken once


def statements(style: str) -> Statements:
    """Every statement of `store.py` / `store_postgres.py` for `qmark` or `numeric`."""
    return Statements(
        find=render(FIND_KEY, style),
        find_seatable=render(FIND_SEATABLE, style),
        has=render(FIND_INSTANCE, style),
        has_print=render(FIND_FINGERPRINT, style),
        details=render(DETAILS, style),
        take=listened(TAKE_SEAT_LISTENED, style, "license_keys", INSTANCE_ACTIVATED),
        delete=listened(DELETE_INSTANCE, style, "license_key_instances", INSTANCE_DEACTIVATED),
        reap=listened(REAP, style, "license_key_instances", INSTANCE_RELEASED),
        reuse=render(REUSE, style),
        insert=render(INSERT_INSTANCE, style),
        free=render(FREE_SEAT, style),
        free_many=render(FREE_SEATS, style),
        beat=render(HEARTBEAT, style),
        queue=render(INSERT_DELIVERY, style),
        claim=render(CLAIM_REQUEST, style),
    )


TIMEOUT = "heartbeat_timeout"


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    business_id: str
    mode: str
    customer_id: str
    product_id: str
    key_hash: bytes
    disabled: bool
    expires_at: datetime | None
    policy: Policy


@dataclass(frozen=True, slots=True)
class Seat:
    """An instance holding a seat (or that held one, when it was released)."""

    id: str
    name: str
    fingerprint: str | None
    created_at: datetime
    last_heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class Activation:
    seat: Seat
    reused: bool  # the machine's existing instance (its fingerprint): no new seat


@dataclass(frozen=True, slots=True)
class Details:
    customer_id: str
    email: str
    name: str
    phone_number: str | None
    metadata: Any
    product_id: str
    product_name: str


def key_row(r: Any, key_hash: bytes, expires_at: datetime | None) -> KeyRow:
    policy = policy_of(r[8], r[9], int(r[10]), int(r[11]), int(r[12]), r[13])
    return KeyRow(r[0], r[1], r[2], r[3], r[4], key_hash, bool(r[6]), expires_at, policy)


def listened(template: str, style: str, table: str, event_type: str) -> str:
    """`template` with its `{subscribers}` subquery, rendered for the driver."""
    sql = template.replace("{subscribers}", subscribers(style, table, event_type))
    return render(sql, style)


def sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def seat_of(row: Any) -> Seat:
    """A deleted instance's row: (id, name, created_at, fingerprint, last_heartbeat_at, …)."""
    return Seat(row[0], row[1], row[3], parse_time(row[2]), parse_time(row[4]))


def instance_data(key: KeyRow, seat: Seat) -> dict[str, Any]:
    """The instance as the API returns it: the payload of its webhook events."""
    return {
        "id": seat.id,
        "business_id": key.business_id,
        "created_at": seat.created_at,
        "license_key_id": key.id,
        "name": seat.name,
        "fingerprint": seat.fingerprint,
        "last_heartbeat_at": seat.last_heartbeat_at,
    }


def released_data(key: KeyRow, seat: Seat, note: str) -> dict[str, Any]:
    """`license_key_instance.released` for a silent seat (docs/events.md)."""
    return {**instance_data(key, seat), "reason": TIMEOUT, "released_by": REAPER, "note": note}


def silence_note(policy: Policy) -> str:
    return f"no heartbeat for more than {int(policy.silence.total_seconds())} s (interval + grace)"


def activated(key: KeyRow, seat: Seat, now: datetime, origin: Origin) -> Draft:
    """The audit event of an activation (`license_key_instance.activated`)."""
    pairs = {"name": (None, seat.name), "fingerprint": (None, seat.fingerprint)}
    return _draft(key, "activated", seat.id, now, origin.actor, origin, pairs)


def deactivated(key: KeyRow, instance_id: str, now: datetime, origin: Origin) -> Draft:
    return _draft(key, "deactivated", instance_id, now, origin.actor, origin, {})


def released(key: KeyRow, seat: Seat, now: datetime, origin: Origin) -> Draft:
    """A silent seat freed (by the activation that needed it): the server's rule, so its
    actor is `system:seat_reaper`, and the event names who held the seat."""
    pairs = {
        "name": (seat.name, None),
        "fingerprint": (seat.fingerprint, None),
        "last_heartbeat_at": (seat.last_heartbeat_at, None),
    }
    note = silence_note(key.policy)
    return _draft(key, "released", seat.id, now, REAPER, origin, pairs, old_key=True, note=note)


def _draft(
    key: KeyRow,
    verb: str,
    instance_id: str,
    now: datetime,
    actor: str | None,
    origin: Origin,
    pairs: Mapping[str, tuple[object, object]],
    *,
    old_key: bool = False,
    note: str | None = None,
) -> Draft:
    link = {"old": key.id, "new": None} if old_key else {"old": None, "new": key.id}
    return Draft(
        id=event_id(),
        business_id=key.business_id,
        mode=key.mode,
        created_at=now,
        actor=actor or f"license_key:{key.id}",
        action=f"license_key_instance.{verb}",
        target_type="license_key_instance",
        target_id=instance_id,
        changes={"license_key_id": link, **changes_of(pairs)},
        note=note,
        request_id=origin.request_id,
        client_address=origin.client_address,
    )


# Air-gapped activation (license_key/offline.py): the request is taken in the activation's
# own transaction, once; a second upload finds its hash and inserts nothing.
CLAIM_REQUEST = (
    "INSERT INTO activation_requests (id, business_id, mode, request_hash, license_key_id, "
    "license_key_instance_id, instance_id, requested_at, expires_at, created_at) "
    "VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}) "
    "ON CONFLICT (request_hash) DO NOTHING RETURNING id"
)
REDEEMED = "activation_request.redeemed"


@dataclass(frozen=True, slots=True)
class Claim:
    """An activation request to take with the activation (`LicenseStore.activate`)."""

    id: str  # acr_…
    request_hash: bytes
    instance_id: str | None  # the machine's own id, as it sent it
    requested_at: datetime
    expires_at: datetime

    def values(self, key: KeyRow, seat_id: str) -> tuple[Any, ...]:
        """The row's values but its three times (requested_at, expires_at, created_at),
        which each driver gives in its own form."""
        ids = (self.id, key.business_id, key.mode, self.request_hash, key.id, seat_id)
        return (*ids, self.instance_id)

    def redeemed(self, key: KeyRow, seat: Seat, now: datetime, origin: Origin) -> Draft:
        """The audit event of the redeemed request (`activation_request.redeemed`)."""
        pairs = {
            "license_key_id": (None, key.id),
            "license_key_instance_id": (None, seat.id),
            "fingerprint": (None, seat.fingerprint),
            "instance_id": (None, self.instance_id),
            "expires_at": (None, self.expires_at),
        }
        return Draft(
            id=event_id(),
            business_id=key.business_id,
            mode=key.mode,
            created_at=now,
            actor=origin.actor,
            action=REDEEMED,
            target_type="activation_request",
            target_id=self.id,
            changes=changes_of(pairs, public=("license_key_instance_id",)),
            note=None,
            request_id=origin.request_id,
            client_address=origin.client_address,
        )
