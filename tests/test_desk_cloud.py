"""Cloud activation and seat links, against real servers, without an API key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from licensor import verifier as v
from tests import net
from tests.desk_helpers import cloud, error, ok, report
from tests.servers import Tenant


def test_activation_code_shape_and_regeneration(tenant: Tenant) -> None:
    http, public, s, code = cloud(tenant)
    assert len(code) == 24
    assert code.isalnum()
    assert code.upper() == code
    assert ok(http.get(f"/subscriptions/{s['id']}"))["has_activation_code"] is True
    new = ok(http.post(f"/subscriptions/{s['id']}/activation_code"), 201)["activation_code"]
    assert new != code
    got = error(
        public.post("/cloud/activate", json={"activation_code": code, "instance_id": "i"}),
        403,
        "ACTIVATION_CODE_REVOKED",
    )
    assert "revoked" in got["message"]
    ok(public.post("/cloud/activate", json={"activation_code": new.lower(), "instance_id": "i"}))


def test_activate_returns_a_signed_online_cloud_license(tenant: Tenant) -> None:
    http, public, s, code = cloud(tenant)
    held = ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "gl-1"}))
    keys = ok(public.get(f"/.well-known/jwks/{tenant.business_id}/test.json"))
    got = v.verify_license_file(held["license_file"], keys, mode="test")
    assert got.type == "online_cloud"
    assert got.id == held["license_id"]
    assert got.users_count == 10
    assert got.subscription is not None
    assert got.subscription.external_id == s["external_id"]
    lic = ok(http.get(f"/licenses/{held['license_id']}"))
    assert lic["issued_by"] == "cloud"
    assert lic["notes"] == []
    again = ok(
        public.post("/cloud/activate", json={"activation_code": code, "instance_id": "gl-1"})
    )
    assert again["license_id"] == held["license_id"]


def test_seat_links_keep_history_and_compute_overage(tenant: Tenant) -> None:
    http, public, s, code = cloud(tenant, users=10)
    held = ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "gl-1"}))
    by_key = {"license_key": held["license_key"], "instance_id": "gl-1"}
    first = ok(report(public, by_key, 8, 9))
    assert (first["overage"], first["new_license"], first["licensed_users_count"]) == (0, False, 10)
    assert first["license_id"] == held["license_id"]
    second = ok(report(public, {"activation_code": code, "instance_id": "gl-1"}, 12, 14))
    assert second["overage"] == 4
    history = ok(http.get(f"/subscriptions/{s['id']}/seat_links"))["items"]
    assert [(h["billable_users_count"], h["overage"]) for h in history] == [(12, 4), (8, 0)]
    assert {h["instance_id"] for h in history} == {"gl-1"}


@pytest.mark.parametrize(
    "change",
    [
        {"users_count": 20},
        {"expires_at": (datetime.now(UTC) + timedelta(days=730)).isoformat()},
        "plan",
    ],
)
def test_a_changed_subscription_gets_a_new_license(tenant: Tenant, change: Any) -> None:
    http, public, s, code = cloud(tenant)
    held = ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "gl-1"}))
    if change == "plan":
        other = ok(
            http.post("/plans", json={"code": f"ult-{s['id'][-6:]}", "name": "Ultimate"}), 201
        )
        change = {"plan_code": other["code"]}
    ok(http.patch(f"/subscriptions/{s['id']}", json=change))
    ref = {"license_key": held["license_key"], "instance_id": "gl-1"}
    renewed = ok(report(public, ref, 5, 5))
    assert renewed["new_license"] is True
    assert renewed["license_id"] != held["license_id"]
    keys = ok(public.get(f"/.well-known/jwks/{tenant.business_id}/test.json"))
    got = v.verify_license_file(renewed["license_file"], keys, mode="test")
    if "users_count" in change:
        assert got.users_count == 20
    if "plan_code" in change:
        assert got.plan.code == change["plan_code"]
    # the old license key still identifies the instance; the answer is now unchanged
    again = ok(report(public, ref, 5, 5))
    assert (again["new_license"], again["license_id"]) == (False, renewed["license_id"])


def test_wrong_codes_and_unknown_instances(tenant: Tenant) -> None:
    _http, public, _s, code = cloud(tenant)
    error(
        public.post("/cloud/activate", json={"activation_code": "X" * 24, "instance_id": "i"}),
        404,
        "ACTIVATION_CODE_INVALID",
    )
    error(
        public.post("/cloud/activate", json={"activation_code": "", "instance_id": "i"}),
        422,
        "VALIDATION_ERROR",
    )
    error(public.post("/cloud/activate", json={"activation_code": code}), 422, "VALIDATION_ERROR")
    error(
        report(public, {"activation_code": code, "instance_id": "never"}, 1, 1),
        404,
        "INSTANCE_NOT_ACTIVATED",
    )
    held = ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "a"}))
    error(
        report(public, {"license_key": held["license_key"], "instance_id": "b"}, 1, 1),
        404,
        "INSTANCE_NOT_ACTIVATED",
    )
    error(
        report(public, {"license_key": "NOPE-NOPE", "instance_id": "a"}, 1, 1),
        404,
        "LICENSE_KEY_INVALID",
    )
    error(report(public, {"instance_id": "a"}, 1, 1), 422, "LICENSE_REFERENCE_MISSING")
    late = {
        "license_key": held["license_key"],
        "instance_id": "a",
        "billable_users_count": 1,
        "max_historical_users_count": 1,
        "timestamp": "9999-12-31T23:59:59-01:00",
    }
    error(public.post("/cloud/seat_links", json=late), 422, "VALIDATION_ERROR")
    error(
        report(public, {"license_key": held["license_key"], "instance_id": "a"}, 5, 4),
        422,
        "INVALID_USAGE",
    )
    error(
        report(public, {"license_key": held["license_key"], "instance_id": "a"}, -1, 4),
        422,
        "VALIDATION_ERROR",
    )


def test_desk_license_key_is_not_an_activated_instance(tenant: Tenant) -> None:
    http, public, _s, _code = cloud(tenant)
    from tests.desk_helpers import legacy_body
    from tests.desk_helpers import setup as make

    p, c, s2 = make(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s2)), 201)
    error(
        report(public, {"license_key": lic["license_key"], "instance_id": "a"}, 1, 1),
        404,
        "INSTANCE_NOT_ACTIVATED",
    )


def test_cancelled_and_non_cloud_subscriptions(tenant: Tenant) -> None:
    http, public, s, code = cloud(tenant)
    held = ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "a"}))
    ok(http.patch(f"/subscriptions/{s['id']}", json={"cloud_licensing": "Offline"}))
    error(
        report(public, {"license_key": held["license_key"], "instance_id": "a"}, 1, 1),
        409,
        "CLOUD_LICENSING_NOT_ENABLED",
    )
    error(
        public.post("/cloud/activate", json={"activation_code": code, "instance_id": "b"}),
        409,
        "CLOUD_LICENSING_NOT_ENABLED",
    )
    ok(http.delete(f"/subscriptions/{s['id']}"))
    error(
        public.post("/cloud/activate", json={"activation_code": code, "instance_id": "b"}),
        403,
        "ACTIVATION_CODE_REVOKED",
    )
    error(
        report(public, {"license_key": held["license_key"], "instance_id": "a"}, 1, 1),
        403,
        "SUBSCRIPTION_CANCELLED",
    )


def test_concurrent_activations_and_regenerations(tenant: Tenant) -> None:
    from concurrent.futures import ThreadPoolExecutor

    http, public, s, code = cloud(tenant)
    body = {"activation_code": code, "instance_id": "same"}

    def activate(_: int) -> httpx.Response:
        with net.client(base_url=tenant.base_url, timeout=60) as client:
            return client.post("/cloud/activate", json=body)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(activate, range(8)))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
    assert len({r.json()["license_id"] for r in answers}) == 1

    def regenerate(_: int) -> httpx.Response:
        with tenant.http() as client:
            return client.post(f"/subscriptions/{s['id']}/activation_code")

    with ThreadPoolExecutor(6) as pool:
        made = list(pool.map(regenerate, range(6)))
    assert [r.status_code for r in made] == [201] * 6
    live = ok(http.get(f"/subscriptions/{s['id']}/activation_code"))["activation_code"]
    for r in made:
        other = r.json()["activation_code"]
        got = public.post("/cloud/activate", json={"activation_code": other, "instance_id": "z"})
        assert got.status_code == (200 if other == live else 403), got.text
