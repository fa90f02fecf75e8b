"""Cloud instances are bound, capped and revocable (issue 12, part 1), against real
servers on both backends: the instance's own id in the signed file, a cap on instances
per subscription (race-free), the activation code each instance was activated with, staff
revoking an instance, and seat-link timestamps that cannot lie about when."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from licensor import verifier as v
from tests import net
from tests.cli_helpers import cli, cli_json
from tests.desk_helpers import STARTS, cloud, error, ok, plan, report
from tests.servers import Server, Tenant


def activate(public: httpx.Client, code: str, instance_id: str) -> httpx.Response:
    return public.post(
        "/cloud/activate", json={"activation_code": code, "instance_id": instance_id}
    )


def instances(http: httpx.Client, sub_id: str, **params: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = ok(
        http.get(f"/subscriptions/{sub_id}/cloud_instances", params=params)
    )["items"]
    return got


def audit(http: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = ok(http.get("/audit_events", params={"page_size": 100, **filters}))[
        "items"
    ]
    return got


# -- today: each of these failed before the change -------------------------------------


def test_today_one_code_activated_more_instances_than_allowed(tenant: Tenant) -> None:
    """Today: one code activated 15 instances on a 10-seat subscription. Now the plan's cap
    (1 by default) holds: a second instance id is refused, the first re-activates."""
    _http, public, _s, code = cloud(tenant)
    first = ok(activate(public, code, "gl-1"))
    got = error(activate(public, code, "gl-2"), 409, "CLOUD_INSTANCE_LIMIT_REACHED")
    assert "1" in got["message"]
    again = ok(activate(public, code, "gl-1"))  # the same instance does not count twice
    assert again["license_id"] == first["license_id"]
    for n in range(3, 16):
        error(activate(public, code, f"gl-{n}"), 409, "CLOUD_INSTANCE_LIMIT_REACHED")


def test_today_the_signed_file_names_the_instance_itself(tenant: Tenant) -> None:
    """Today the file named only the server's `ins_…` row: a copy on another machine could
    not be told apart. Now it carries the id the instance sent, too."""
    _http, public, _s, code = cloud(tenant)
    held = ok(activate(public, code, "gl-own-7f3a"))
    keys = ok(public.get(f"/.well-known/jwks/{tenant.business_id}/test.json"))
    got = v.verify_license_file(held["license_file"], keys, mode="test")
    assert got.instance_id == "gl-own-7f3a"
    assert got.cloud_instance_id is not None
    assert got.cloud_instance_id.startswith("ins_")
    ref = {"license_key": held["license_key"], "instance_id": "gl-own-7f3a"}
    linked = ok(report(public, ref, 1, 1))
    pinned = v.verify_license_file(
        linked["license_file"], keys, mode="test", instance_id="gl-own-7f3a"
    )
    assert pinned.instance_id == "gl-own-7f3a"
    with pytest.raises(v.WrongInstance):  # copied to another machine, the file is refused
        v.verify_license_file(linked["license_file"], keys, mode="test", instance_id="other")


def test_today_a_revoked_code_kept_its_instances_licensed(tenant: Tenant) -> None:
    """Today an instance activated with a code that was then regenerated kept getting fresh
    signed licenses from /cloud/seat_links. Now its seat links are refused, by key or by
    code, until it activates again with the new code (which moves it there)."""
    http, public, s, old = cloud(tenant)
    held = ok(activate(public, old, "gl-1"))
    by_key = {"license_key": held["license_key"], "instance_id": "gl-1"}
    ok(report(public, by_key, 1, 1))
    new = ok(http.post(f"/subscriptions/{s['id']}/activation_code"), 201)["activation_code"]
    error(report(public, by_key, 1, 1), 403, "ACTIVATION_CODE_REVOKED")
    error(report(public, {**by_key, "activation_code": old}, 1, 1), 403, "ACTIVATION_CODE_REVOKED")
    by_new_code = {"activation_code": new, "instance_id": "gl-1"}
    error(report(public, by_new_code, 1, 1), 403, "ACTIVATION_CODE_REVOKED")
    error(activate(public, old, "gl-1"), 403, "ACTIVATION_CODE_REVOKED")
    moved = ok(activate(public, new, "gl-1"))
    assert moved["license_id"] == held["license_id"]  # the same instance, moved to the new code
    ok(report(public, by_key, 2, 2))
    ok(report(public, by_new_code, 2, 2))
    [row] = instances(http, s["id"])
    assert row["status"] == "active"
    assert row["activation_code_id"].startswith("act_")
    [moved_event] = audit(http, action="cloud_instance.code_changed")
    assert moved_event["target_id"] == row["id"]
    assert moved_event["changes"]["activation_code_id"]["new"] == row["activation_code_id"]
    # revoking the code outright (no new one) stops it as well
    assert http.delete(f"/subscriptions/{s['id']}/activation_code").status_code == 204
    error(report(public, by_key, 1, 1), 403, "ACTIVATION_CODE_REVOKED")
    assert instances(http, s["id"])[0]["status"] == "code_revoked"


def test_today_nothing_deactivated_a_cloud_instance(tenant: Tenant) -> None:
    """Today nothing revoked a cloud instance. Now staff revoke one: its seat links and
    re-activations are refused, its slot is freed, and the change is on the record."""
    http, public, s, code = cloud(tenant)
    held = ok(activate(public, code, "gl-1"))
    [row] = instances(http, s["id"])
    assert (row["instance_id"], row["status"], row["revoked_at"]) == ("gl-1", "active", None)
    assert row["license_id"] == held["license_id"]
    revoked = ok(
        http.post(f"/subscriptions/{s['id']}/cloud_instances/{row['id']}/revoke"),
    )
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] is not None
    by_key = {"license_key": held["license_key"], "instance_id": "gl-1"}
    error(report(public, by_key, 1, 1), 403, "CLOUD_INSTANCE_REVOKED")
    error(
        report(public, {"activation_code": code, "instance_id": "gl-1"}, 1, 1),
        403,
        "CLOUD_INSTANCE_REVOKED",
    )
    error(activate(public, code, "gl-1"), 403, "CLOUD_INSTANCE_REVOKED")
    ok(activate(public, code, "gl-2"))  # the revoked instance freed its slot
    again = ok(http.post(f"/subscriptions/{s['id']}/cloud_instances/{row['id']}/revoke"))
    assert again["revoked_at"] == revoked["revoked_at"]  # once is enough
    [event] = audit(http, action="cloud_instance.revoked")
    assert event["target_id"] == row["id"]
    assert event["actor"].startswith("api_key:key_")
    assert event["changes"]["revoked_at"]["old"] is None


# -- the cap ---------------------------------------------------------------------------


def test_cap_from_the_plan_and_the_subscription(tenant: Tenant) -> None:
    http = tenant.http()
    p = plan(http, max_instances=2)
    assert p["max_instances"] == 2
    assert plan(http)["max_instances"] == 1  # GitLab's model: one instance per subscription
    _, public, s, code = cloud(tenant, plan_code=p["code"])
    assert (s["max_instances"], s["effective_max_instances"]) == (None, 2)
    ok(activate(public, code, "a"))
    ok(activate(public, code, "b"))
    error(activate(public, code, "c"), 409, "CLOUD_INSTANCE_LIMIT_REACHED")
    changed = ok(http.patch(f"/subscriptions/{s['id']}", json={"max_instances": 3}))
    assert (changed["max_instances"], changed["effective_max_instances"]) == (3, 3)
    ok(activate(public, code, "c"))
    error(activate(public, code, "d"), 409, "CLOUD_INSTANCE_LIMIT_REACHED")
    # lowering the cap keeps the instances working, and refuses new ones
    ok(http.patch(f"/subscriptions/{s['id']}", json={"max_instances": 1}))
    ok(activate(public, code, "a"))
    error(activate(public, code, "e"), 409, "CLOUD_INSTANCE_LIMIT_REACHED")
    cleared = ok(http.patch(f"/subscriptions/{s['id']}", json={"max_instances": None}))
    assert (cleared["max_instances"], cleared["effective_max_instances"]) == (None, 2)
    ok(http.patch(f"/plans/{p['id']}", json={"max_instances": 5}))
    assert ok(http.get(f"/subscriptions/{s['id']}"))["effective_max_instances"] == 5
    ok(activate(public, code, "d"))
    [updated] = audit(http, action="subscription.updated", target_id=s["id"])[:1]
    assert updated["changes"]["max_instances"] == {"old": 1, "new": None}


def test_cap_values_are_validated(tenant: Tenant) -> None:
    http = tenant.http()
    for bad in (0, -1, "2", 1.5, None):
        got = http.post("/plans", json={"code": "p-bad", "name": "Bad", "max_instances": bad})
        error(got, 422, "VALIDATION_ERROR")
    p = plan(http)
    error(http.patch(f"/plans/{p['id']}", json={"max_instances": 0}), 422, "VALIDATION_ERROR")
    error(http.patch(f"/plans/{p['id']}", json={"max_instances": None}), 422, "VALIDATION_ERROR")
    _, _, s, _ = cloud(tenant)
    for bad in (0, -3, "x"):
        got = http.patch(f"/subscriptions/{s['id']}", json={"max_instances": bad})
        error(got, 422, "VALIDATION_ERROR")


def test_concurrent_activations_never_pass_the_cap(tenant: Tenant) -> None:
    """Twelve instances activate at once on a cap of 3: exactly three get a license."""
    http, _public, s, code = cloud(tenant, max_instances=3)

    def one(n: int) -> httpx.Response:
        with net.client(base_url=tenant.base_url, timeout=60) as client:
            return activate(client, code, f"race-{n}")

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, range(12)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 3 + [409] * 9, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {
        "CLOUD_INSTANCE_LIMIT_REACHED"
    }
    assert len(instances(http, s["id"], page_size=100)) == 3


def test_a_code_revoked_instance_frees_its_slot(tenant: Tenant) -> None:
    """An instance whose code was regenerated holds no slot: a new instance may take it
    with the new code; the old one then finds the cap reached when it comes back."""
    http, public, s, old = cloud(tenant)
    ok(activate(public, old, "old-box"))
    new = ok(http.post(f"/subscriptions/{s['id']}/activation_code"), 201)["activation_code"]
    ok(activate(public, new, "new-box"))
    error(activate(public, new, "old-box"), 409, "CLOUD_INSTANCE_LIMIT_REACHED")
    states = {i["instance_id"]: i["status"] for i in instances(http, s["id"])}
    assert states == {"old-box": "code_revoked", "new-box": "active"}


# -- listing and revoking ------------------------------------------------------------


def test_list_pages_and_other_tenants(server: Server, tenant: Tenant) -> None:
    http, public, s, code = cloud(tenant, max_instances=5)
    for n in range(4):
        ok(activate(public, code, f"box-{n}"))
    listed = instances(http, s["id"])
    assert [i["instance_id"] for i in listed] == [f"box-{n}" for n in (3, 2, 1, 0)]  # newest first
    first = instances(http, s["id"], page_size=3)
    second = instances(http, s["id"], page_size=3, page_number=1)
    assert [i["id"] for i in first + second] == [i["id"] for i in listed]
    error(
        http.get(f"/subscriptions/{s['id']}/cloud_instances", params={"status": "x"}),
        422,
        "UNKNOWN_QUERY_PARAMETER",
    )
    error(
        http.post(f"/subscriptions/{s['id']}/cloud_instances/ins_nope/revoke"),
        404,
        "CLOUD_INSTANCE_NOT_FOUND",
    )
    _, _, other, _ = cloud(tenant)
    error(
        http.post(f"/subscriptions/{other['id']}/cloud_instances/{listed[0]['id']}/revoke"),
        404,
        "CLOUD_INSTANCE_NOT_FOUND",
    )
    with server.tenant().http() as foreign:
        error(
            foreign.get(f"/subscriptions/{s['id']}/cloud_instances"), 404, "SUBSCRIPTION_NOT_FOUND"
        )


# -- seat-link timestamps ------------------------------------------------------------


def test_seat_link_timestamps_in_the_future_or_before_the_term(tenant: Tenant) -> None:
    _http, public, _s, code = cloud(tenant)
    held = ok(activate(public, code, "gl-1"))
    ref = {"license_key": held["license_key"], "instance_id": "gl-1"}
    now = datetime.now(UTC)
    ok(report(public, ref, 1, 1, now + timedelta(minutes=2)))  # within the clock skew
    got = error(
        report(public, ref, 1, 1, now + timedelta(minutes=10)), 422, "SEAT_LINK_TIMESTAMP_INVALID"
    )
    assert "future" in got["message"]
    starts = datetime.fromisoformat(STARTS)
    ok(report(public, ref, 1, 1, starts - timedelta(hours=23)))
    got = error(
        report(public, ref, 1, 1, starts - timedelta(days=1, minutes=1)),
        422,
        "SEAT_LINK_TIMESTAMP_INVALID",
    )
    assert "before" in got["message"]


# -- the CLI ---------------------------------------------------------------------------


def test_cli_caps_lists_and_revokes(server: Server, tenant: Tenant) -> None:
    biz = ["--business-id", tenant.business_id]
    made = cli_json(
        server, "plans", "create", "--code", "duo", "--name", "Duo", "--max-instances", "2", *biz
    )
    assert made["max_instances"] == 2
    refused = cli(server, "plans", "update", made["id"], "--max-instances", "0", *biz)
    assert (refused.returncode, refused.error()["code"]) == (1, "VALIDATION_ERROR")
    http, public, s, code = cloud(tenant, plan_code="duo")
    sub = cli_json(server, "subscriptions", "update", s["id"], "--max-instances", "1", *biz)
    assert (sub["max_instances"], sub["effective_max_instances"]) == (1, 1)
    sub = cli_json(server, "subscriptions", "update", s["id"], "--plan-max-instances", *biz)
    assert (sub["max_instances"], sub["effective_max_instances"]) == (None, 2)
    ok(activate(public, code, "cli-box"))
    [listed] = cli_json(server, "subscriptions", "instances", s["id"], *biz)
    assert (listed["instance_id"], listed["status"]) == ("cli-box", "active")
    revoked = cli_json(server, "subscriptions", "revoke-instance", s["id"], listed["id"], *biz)
    assert revoked["status"] == "revoked"
    [event] = audit(http, action="cloud_instance.revoked")
    assert event["actor"].startswith("cli:")
    missing = cli(server, "subscriptions", "revoke-instance", s["id"], "ins_nope", *biz)
    assert missing.error()["code"] == "CLOUD_INSTANCE_NOT_FOUND"
