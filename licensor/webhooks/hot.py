"""Webhook events from the hot paths' raw SQL (`license_key/store.py`): activation and
deactivation run one raw transaction each, and their event is queued inside it.

Whether anyone listens costs no extra round trip: the statement that takes (or frees)
the seat also returns, through a correlated subquery on the endpoints' (business, mode)
index, the ids of the enabled endpoints that want the event. No endpoint: nothing else
happens. Endpoints: one INSERT of their deliveries in the same transaction. Nothing is
cached, so an endpoint created in another process counts at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.webhooks.events import EVENT_TYPES, body

INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (id, business_id, mode, endpoint_id, event_id, event_type, "
    "payload_encrypted, status, attempts, max_attempts, next_attempt_at, created_at, "
    "updated_at) VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, 'queued', 0, {7}, {8}, {9}, {10})"
)


def subscribers(style: str, table: str, event_type: str) -> str:
    """A scalar subquery: the space-separated ids of `table`'s row's business and mode's
    enabled endpoints that want `event_type` (NULL when none). `style`: the driver's."""
    assert event_type in EVENT_TYPES  # a fixed name, never input: safe inside the SQL
    agg, find = ("group_concat", "instr") if style == "qmark" else ("string_agg", "strpos")
    return (
        f"(SELECT {agg}(e.id, ' ') FROM webhook_endpoints e "
        f"WHERE e.business_id = {table}.business_id AND e.mode = {table}.mode "
        f"AND NOT e.disabled AND (e.filter_key = '' OR {find}(e.filter_key, ',{event_type},') > 0))"
    )


class HotOutbox:
    """Builds the delivery rows of one event (ids, encrypted body) for the raw stores."""

    def __init__(self, vault: Vault, max_attempts: int) -> None:
        self.vault = vault
        self.max_attempts = max_attempts

    def rows(
        self,
        endpoint_ids: str | None,
        business_id: str,
        mode: str,
        event_type: str,
        data: Mapping[str, Any],
        now: datetime,
        stamp: Any,
    ) -> list[tuple[Any, ...]]:
        """One row per endpoint id; `stamp` is `now` as the driver stores it."""
        if not endpoint_ids:
            return []
        event_id = new_id("msg")
        payload = body(business_id, event_type, data, now).decode()
        rows = []
        for endpoint_id in endpoint_ids.split(" "):
            row_id = new_id("whd")
            encrypted = self.vault.encrypt(payload, row_id)
            head = (row_id, business_id, mode, endpoint_id, event_id, event_type, encrypted)
            rows.append((*head, self.max_attempts, stamp, stamp, stamp))
        return rows
