"""`license_key_instance.released` webhooks: a seat freed by staff, by an activation that
needed it (the hot path's raw transaction), and by the worker's sweep — each naming who
held the seat. The server runs no worker: the test runs its passes."""

from __future__ import annotations

import time
from typing import Any

from tests import net
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import Server, Tenant
from tests.webhook_helpers import Receiver, drain, endpoint, hooks, inbox

__all__ = ["hooks", "inbox"]
RELEASED = "license_key_instance.released"


def floating(tenant: Tenant, limit: int, interval: int = 1) -> dict[str, Any]:
    policy = {"license_model": "floating", "heartbeat_interval_seconds": interval}
    product_id = make_product(tenant, license_policy={**policy, "heartbeat_grace_seconds": 0})
    return make_key(tenant, make_customer(tenant), product_id, unique(), activations_limit=limit)


def silent(base_url: str, key: str, instance_id: str) -> None:
    deadline = time.monotonic() + 30
    body = {"license_key": key, "license_key_instance_id": instance_id}
    while net.post(base_url + "/licenses/validate", json=body).json()["valid"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_every_release_is_a_webhook_naming_who_held_the_seat(
    hooks: Server, inbox: Receiver
) -> None:
    tenant = hooks.tenant()
    endpoint(tenant, inbox.url("/seats"), filter_types=[RELEASED])
    # 3 s: the seats taken last stay live well past the worker's first pass (a sweep)
    key = floating(tenant, 3, interval=3)
    base = tenant.base_url

    def activate(name: str) -> str:
        body = {"license_key": key["key"], "name": name, "fingerprint": f"fp-{name}"}
        got = net.post(base + "/licenses/activate", json=body)
        assert got.status_code == 201, got.text
        instance: str = got.json()["id"]
        return instance

    staff_freed, swept, needed = activate("staff"), activate("swept"), activate("needed")
    with tenant.http() as http:
        gone = http.delete(f"/license_key_instances/{staff_freed}", params={"reason": "RMA"})
        assert gone.status_code == 204, gone.text
    silent(base, key["key"], needed)
    activate("one")  # a free seat: nothing reaped
    activate("two")  # full: the silent ones are reaped in this activation's transaction
    drain(hooks, lambda: len(inbox.at("/seats")) >= 3, "the released events")
    by_id = {r.json()["data"]["id"]: r.json() for r in inbox.at("/seats")}
    assert set(by_id) == {staff_freed, swept, needed}
    assert {b["type"] for b in by_id.values()} == {RELEASED}
    forced = by_id[staff_freed]["data"]
    assert (forced["reason"], forced["note"], forced["name"]) == ("force_release", "RMA", "staff")
    assert forced["released_by"].startswith("api_key:")
    assert forced["fingerprint"] == "fp-staff"
    for instance in (swept, needed):
        data = by_id[instance]["data"]
        assert (data["reason"], data["released_by"]) == ("heartbeat_timeout", "system:seat_reaper")
        assert data["license_key_id"] == key["id"]
        assert data["last_heartbeat_at"]
        assert data["fingerprint"].startswith("fp-")
    with tenant.http() as http:
        assert http.get(f"/license_keys/{key['id']}").json()["instances_count"] == 2


def test_the_worker_sweep_frees_a_silent_seat_nobody_asked_for(
    hooks: Server, inbox: Receiver
) -> None:
    tenant = hooks.tenant()
    endpoint(tenant, inbox.url("/swept"), filter_types=[RELEASED])
    key = floating(tenant, 1)
    body = {"license_key": key["key"], "name": "lonely", "fingerprint": "lonely-1"}
    lonely = net.post(tenant.base_url + "/licenses/activate", json=body).json()["id"]
    silent(tenant.base_url, key["key"], lonely)
    drain(hooks, lambda: len(inbox.at("/swept")) >= 1, "the sweep's event")
    [event] = inbox.at("/swept")
    assert event.json()["data"]["id"] == lonely
    assert event.json()["data"]["note"] == "no heartbeat for more than 1 s (interval + grace)"
    with tenant.http() as http:
        assert http.get(f"/license_keys/{key['id']}").json()["instances_count"] == 0
        assert http.get(f"/license_key_instances/{lonely}").status_code == 404
