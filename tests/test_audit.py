"""The audit log: every change on the record, in the change's transaction, hash-chained."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.helpers import activate, setup_key
from tests.servers import Tenant


def events(tenant: Tenant, **filters: Any) -> list[dict[str, Any]]:
    with tenant.http() as http:
        resp = http.get("/audit_events", params={"page_size": 100, **filters})
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_key_changes_are_recorded_with_actor_request_and_masked_key(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    with tenant.http() as http:
        resp = http.patch(
            f"/license_keys/{key['id']}",
            json={"disabled": True},
            headers={"X-Request-Id": "req-test-1"},
        )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-request-id"] == "req-test-1"
    got = events(tenant, target_type="license_key", target_id=key["id"])
    assert [e["action"] for e in got] == ["license_key.disabled", "license_key.created"]
    disabled, created = got
    assert disabled["changes"] == {"disabled": {"old": False, "new": True}}
    assert disabled["request_id"] == "req-test-1", str(disabled)
    assert disabled["actor"].startswith("api_key:key_")
    assert disabled["client_address"] == "127.0.0.1"
    assert created["changes"]["key"]["new"] == "****" + key["key"][-4:]
    assert key["key"] not in str(got)
    assert disabled["prev_hash"] == created["hash"]
    assert created["seq"] + 1 == disabled["seq"]


def test_activate_and_deactivate_are_recorded_in_their_raw_transaction(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    resp = activate(tenant.base_url, key["key"])
    assert resp.status_code == 201, resp.text
    instance = resp.json()["id"]
    request_id = resp.headers["x-request-id"]
    resp = httpx.post(
        tenant.base_url + "/licenses/deactivate",
        json={"license_key": key["key"], "license_key_instance_id": instance},
        headers={"X-Request-Id": "deact-1"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-request-id"] == "deact-1"
    # validate changes nothing and records nothing
    httpx.post(tenant.base_url + "/licenses/validate", json={"license_key": key["key"]})
    got = events(tenant, target_type="license_key_instance", target_id=instance)
    assert [e["action"] for e in got] == [
        "license_key_instance.deactivated",
        "license_key_instance.activated",
    ]
    gone, made = got
    assert made["actor"] == gone["actor"] == f"license_key:{key['id']}"
    assert made["request_id"] == request_id
    assert gone["request_id"] == "deact-1"
    assert made["changes"]["name"] == {"old": None, "new": "laptop"}
    assert made["client_address"] == "127.0.0.1"
    everything = events(tenant)
    assert [e["seq"] for e in everything] == list(range(len(everything), 0, -1))
    for newer, older in itertools.pairwise(everything):
        assert newer["prev_hash"] == older["hash"]
