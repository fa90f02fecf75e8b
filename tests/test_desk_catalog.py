"""Plans and subscriptions: CRUD over the API, with every bad input a 4xx with a code."""

from __future__ import annotations

from typing import Any

import pytest

from tests import net
from tests.desk_helpers import EXPIRES, STARTS, customer, error, ok, plan, setup, subscription
from tests.servers import Server, Tenant


def test_plan_crud(tenant: Tenant) -> None:
    http = tenant.http()
    made = plan(http, code="premium", features=["sso", "sso", "audit"])
    assert made["features"] == ["sso", "audit"]
    error(http.post("/plans", json={"code": "premium", "name": "Again"}), 409, "PLAN_CODE_TAKEN")
    changed = ok(http.patch(f"/plans/{made['id']}", json={"name": "Premium+", "features": []}))
    assert (changed["name"], changed["features"]) == ("Premium+", [])
    assert ok(http.get(f"/plans/{made['id']}"))["code"] == "premium"
    assert [p["code"] for p in ok(http.get("/plans"))["items"]] == ["premium"]
    assert http.delete(f"/plans/{made['id']}").status_code == 204
    error(http.get(f"/plans/{made['id']}"), 404, "PLAN_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {"code": "Has Spaces", "name": "x"},
        {"code": "", "name": "x"},
        {"code": "ok", "name": ""},
        {"code": "ok", "name": "x", "features": "sso"},
        {"code": "ok"},
    ],
)
def test_bad_plans(tenant: Tenant, body: dict[str, Any]) -> None:
    error(tenant.http().post("/plans", json=body), 422, "VALIDATION_ERROR")


def test_plan_in_use_cannot_be_deleted(tenant: Tenant) -> None:
    http = tenant.http()
    p, _, _ = setup(http)
    error(http.delete(f"/plans/{p['id']}"), 409, "PLAN_IN_USE")
    error(http.patch(f"/plans/{p['id']}", json={"name": None}), 422, "VALIDATION_ERROR")


def test_subscription_crud(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    assert s["plan_code"] == p["code"]
    assert (s["cloud_licensing"], s["seat_reconciliation"], s["has_activation_code"]) == (
        None,
        None,
        False,
    )
    assert ok(http.get(f"/subscriptions/{s['id']}")) == s
    listed = ok(http.get("/subscriptions", params={"customer_id": c["customer_id"]}))["items"]
    assert [x["id"] for x in listed] == [s["id"]]
    changed = ok(
        http.patch(
            f"/subscriptions/{s['id']}",
            json={"users_count": 50, "cloud_licensing": "Yes", "seat_reconciliation": True},
        )
    )
    assert changed["users_count"] == 50
    assert changed["has_activation_code"] is True
    cancelled = ok(http.delete(f"/subscriptions/{s['id']}"))
    assert cancelled["cancelled_at"] is not None
    assert cancelled["has_activation_code"] is False
    error(http.post(f"/subscriptions/{s['id']}/activation_code"), 403, "SUBSCRIPTION_CANCELLED")


@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({"customer_id": "cus_nope"}, 404, "CUSTOMER_NOT_FOUND"),
        ({"plan_code": "nope"}, 404, "PLAN_NOT_FOUND"),
        ({"users_count": 0}, 422, "VALIDATION_ERROR"),
        ({"cloud_licensing": "Maybe"}, 422, "VALIDATION_ERROR"),
        ({"expires_at": STARTS, "starts_at": EXPIRES}, 422, "INVALID_TERM"),
        ({"cloud_licensing": "Yes"}, 422, "SUBSCRIPTION_NOT_CLOUD_COMPATIBLE"),
        ({"starts_at": "not a date"}, 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_subscriptions(
    tenant: Tenant, override: dict[str, Any], status: int, code: str
) -> None:
    http = tenant.http()
    p = plan(http)
    c = customer(http)
    body = {
        "customer_id": c["customer_id"],
        "plan_code": p["code"],
        "users_count": 5,
        "starts_at": STARTS,
        **override,
    }
    error(http.post("/subscriptions", json=body), status, code)


def test_external_id_is_unique_per_tenant(server: Server) -> None:
    one, two = server.tenant(), server.tenant()
    http = one.http()
    p, c, s = setup(http)
    again = {"external_id": s["external_id"]}
    error(
        http.post(
            "/subscriptions",
            json={
                "customer_id": c["customer_id"],
                "plan_code": p["code"],
                "users_count": 1,
                "starts_at": STARTS,
                **again,
            },
        ),
        409,
        "SUBSCRIPTION_EXTERNAL_ID_TAKEN",
    )
    other = setup(two.http())[2]
    error(
        http.patch(f"/subscriptions/{s['id']}", json={"external_id": None, "users_count": None}),
        422,
        "VALIDATION_ERROR",
    )
    ok(two.http().patch(f"/subscriptions/{other['id']}", json=again))
    error(two.http().get(f"/subscriptions/{s['id']}"), 404, "SUBSCRIPTION_NOT_FOUND")


def test_activation_code_routes(tenant: Tenant) -> None:
    http = tenant.http()
    _, _, legacy = setup(http)
    error(
        http.post(f"/subscriptions/{legacy['id']}/activation_code"),
        422,
        "SUBSCRIPTION_NOT_CLOUD_COMPATIBLE",
    )
    error(
        http.get(f"/subscriptions/{legacy['id']}/activation_code"), 404, "ACTIVATION_CODE_NOT_FOUND"
    )
    error(
        http.delete(f"/subscriptions/{legacy['id']}/activation_code"),
        404,
        "ACTIVATION_CODE_NOT_FOUND",
    )
    _, _, offline = setup(http, cloud_licensing="Offline", seat_reconciliation=False)
    assert offline["has_activation_code"] is False
    made = ok(http.post(f"/subscriptions/{offline['id']}/activation_code"), 201)
    shown = ok(http.get(f"/subscriptions/{offline['id']}/activation_code"))
    assert shown["activation_code"] == made["activation_code"]
    anonymous = net.client(base_url=tenant.base_url)
    error(anonymous.get(f"/subscriptions/{offline['id']}/activation_code"), 401, "UNAUTHORIZED")


def test_cloud_subscription_without_end_date_cannot_activate(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, _ = setup(http)
    s = subscription(
        http,
        c["customer_id"],
        p["code"],
        expires_at=None,
        cloud_licensing="Yes",
        seat_reconciliation=True,
    )
    code = ok(http.get(f"/subscriptions/{s['id']}/activation_code"))["activation_code"]
    error(
        http.post("/cloud/activate", json={"activation_code": code, "instance_id": "i"}),
        409,
        "SUBSCRIPTION_WITHOUT_END_DATE",
    )
