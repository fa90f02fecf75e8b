"""The audit log: every change on the record, in the change's transaction, hash-chained."""

from __future__ import annotations

import getpass
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests import net
from tests.cli_helpers import cli, cli_json
from tests.desk_helpers import legacy_body, ok, setup
from tests.helpers import activate, setup_key
from tests.servers import Server, Tenant


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


def test_a_plan_code_is_recorded_in_clear_and_the_desk_key_masked(tenant: Tenant) -> None:
    """`code` in a field name means a secret (activation codes), except for names that
    are not: a plan's code is what support reads in a license's history."""
    with tenant.http() as http:
        p, c, s = setup(http)
        made = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    (issued,) = events(tenant, target_type="desk_license", target_id=made["id"])
    assert issued["changes"]["plan_code"]["new"] == p["code"]
    assert issued["changes"]["key"]["new"].startswith("****")
    assert made["license_key"] not in str(issued)


def test_activate_and_deactivate_are_recorded_in_their_raw_transaction(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    resp = activate(tenant.base_url, key["key"])
    assert resp.status_code == 201, resp.text
    instance = resp.json()["id"]
    request_id = resp.headers["x-request-id"]
    resp = net.post(
        tenant.base_url + "/licenses/deactivate",
        json={"license_key": key["key"], "license_key_instance_id": instance},
        headers={"X-Request-Id": "deact-1"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-request-id"] == "deact-1"
    # validate changes nothing and records nothing
    net.post(tenant.base_url + "/licenses/validate", json={"license_key": key["key"]})
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


def test_a_refused_change_records_nothing(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant, activations_limit=1)
    assert activate(tenant.base_url, key["key"]).status_code == 201
    before = events(tenant)
    assert activate(tenant.base_url, key["key"]).status_code == 422  # limit reached
    with tenant.http() as http:
        resp = http.patch(f"/license_keys/{key['id']}", json={"activations_limit": 0})
    assert resp.status_code == 422
    assert events(tenant) == before


def test_concurrent_changes_never_share_a_predecessor(server: Server, tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda i: activate(tenant.base_url, key["key"], f"m{i}"), range(16)))

        def rename(i: int) -> int:
            with tenant.http() as http:
                resp = http.patch(f"/license_keys/{key['id']}", json={"activations_limit": 100 + i})
            return resp.status_code

        renamed = list(pool.map(rename, range(4)))
    assert {r.status_code for r in made} == {201}
    assert set(renamed) == {200}
    activations = events(tenant, action="license_key_instance.activated", page_size=100)
    assert len(activations) == 16
    done = cli(server, "audit", "verify", "--business-id", tenant.business_id, "--mode", "test")
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["events"] == report["head_seq"] >= 16 + 4


def test_the_cli_records_its_login_and_lists_as_json(server: Server, tenant: Tenant) -> None:
    done = cli(server, "api-keys", "create", "--business-id", tenant.business_id)
    assert done.returncode == 0, done.stderr
    listed = cli_json(
        server, "audit", "list", "--business-id", tenant.business_id, "--action", "api_key.created"
    )
    assert listed[0]["actor"] == f"cli:{getpass.getuser()}"
    assert listed[0]["request_id"] is None
    secret = json.loads(done.stdout)["api_key"]
    assert secret not in json.dumps(listed)
    assert listed[0]["changes"]["display_prefix"]["new"] == secret[:12]
    with tenant.http() as http:
        resp = http.get("/audit_events", params={"actor": listed[0]["actor"]})
    assert [e["id"] for e in resp.json()["items"]] == [listed[0]["id"]]


def test_webhook_endpoint_changes_are_recorded_without_secrets(tenant: Tenant) -> None:
    """Create, update, headers, secret rotation and delete of a webhook endpoint: each on
    the record, by the API key, and no secret in any of it (the signing secret, old or
    new, and the value of a custom header)."""
    with tenant.http() as http:
        made = http.post(
            "/webhooks",
            json={
                "url": "https://crm.example.test/hooks",
                "description": "CRM",
                "filter_types": ["license_key.created"],
                "headers": {"Authorization": "Bearer crm-t0ken-s3cret", "X-Team": "ops"},
            },
        )
        assert made.status_code == 200, made.text
        hook = made.json()["id"]
        old_secret = http.get(f"/webhooks/{hook}/secret").json()["secret"]
        changed = http.patch(
            f"/webhooks/{hook}", json={"description": "CRM sync", "disabled": True}
        )
        assert changed.status_code == 200, changed.text
        body = {"headers": {"Authorization": "Bearer n3w-t0ken-s3cret", "X-Team": ""}}
        assert http.patch(f"/webhooks/{hook}/headers", json=body).status_code == 204
        rotated = http.post(f"/webhooks/{hook}/secret/rotate")
        assert rotated.status_code == 200, rotated.text
        new_secret = http.get(f"/webhooks/{hook}/secret").json()["secret"]
        assert http.delete(f"/webhooks/{hook}").status_code == 204
    got = events(tenant, target_type="webhook_endpoint", target_id=hook)
    assert [e["action"] for e in got] == [
        "webhook_endpoint.deleted",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.headers_changed",
        "webhook_endpoint.updated",
        "webhook_endpoint.created",
    ]
    deleted, rotation, headers, updated, created = got
    assert {e["actor"][:8] for e in got} == {"api_key:"}
    assert created["changes"]["url"] == {"old": None, "new": "https://crm.example.test/hooks"}
    assert created["changes"]["header_names"]["new"] == ["Authorization", "X-Team"]
    assert created["changes"]["filter_types"]["new"] == ["license_key.created"]
    assert updated["changes"] == {
        "description": {"old": "CRM", "new": "CRM sync"},
        "disabled": {"old": False, "new": True},
    }
    assert headers["changes"]["header_names"] == {
        "old": ["Authorization", "X-Team"],
        "new": ["Authorization"],
    }
    assert headers["note"] == "Authorization, X-Team"
    assert set(rotation["changes"]) == {"previous_secret_expires_at"}
    assert rotation["changes"]["previous_secret_expires_at"]["old"] is None
    assert deleted["changes"]["url"]["new"] is None
    recorded = json.dumps(got)
    for secret in (old_secret, new_secret, "crm-t0ken-s3cret", "n3w-t0ken-s3cret"):
        assert secret not in recorded
    for secret in (old_secret, new_secret):  # not even masked, with its last characters
        assert secret[-4:] not in recorded
