"""Every error path: JSON `{"code", "message"}`, the documented status and a stable code."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests import net
from tests.helpers import (
    activate,
    issue_api_key,
    make_customer,
    make_key,
    make_product,
    revoke_all_api_keys,
    setup_key,
    unique,
)
from tests.servers import Server, Tenant


def expect_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


MANAGEMENT_CALLS = [
    ("GET", "/customers", None),
    ("POST", "/customers", {"email": "a@example.test", "name": "A"}),
    ("GET", "/customers/cus_x", None),
    ("PATCH", "/customers/cus_x", {"name": "B"}),
    ("GET", "/products", None),
    ("POST", "/products", {"name": "P"}),
    ("GET", "/license_keys", None),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": "k"}),
    ("GET", "/license_keys/lic_x", None),
    ("PATCH", "/license_keys/lic_x", {"disabled": True}),
    ("GET", "/license_key_instances", None),
    ("GET", "/license_key_instances/lki_x", None),
    ("PATCH", "/license_key_instances/lki_x", {"name": "n"}),
]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer\tlk_test_x",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer lk_prod_abcdef",
        "Bearer lk_test_" + "x" * 300,
        "Bearer lk_test_wrongwrongwrongwrongwrongwrongwrongwrong",
        "Bearer lk_live_wrongwrongwrongwrongwrongwrongwrongwrong",
    ],
)
def test_401_for_missing_malformed_or_wrong_key(server: Server, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with net.client(base_url=server.base_url, headers=headers) as http:
        for method, path, body in MANAGEMENT_CALLS:
            expect_error(http.request(method, path, json=body), 401, "UNAUTHORIZED")


def test_401_for_revoked_key_and_401_before_validation(server: Server) -> None:
    tenant = server.tenant()
    with tenant.http() as http:
        assert http.get("/customers").status_code == 200
        assert revoke_all_api_keys(server, tenant.business_id) == 1
        for method, path, body in MANAGEMENT_CALLS:
            expect_error(http.request(method, path, json=body), 401, "UNAUTHORIZED")
    # an unauthenticated request never learns about validation either
    resp = net.post(server.base_url + "/license_keys", content=b"{nope")
    expect_error(resp, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "authorization", ["Bearer lk_test_garbage", "Basic Zm9v", "garbage !@#$%^&*()" * 20]
)
def test_public_routes_ignore_authorization(tenant: Tenant, authorization: str) -> None:
    _, _, lk = setup_key(tenant)
    url = tenant.base_url + "/licenses"
    headers = {"Authorization": authorization}
    made = net.post(
        url + "/activate", json={"license_key": lk["key"], "name": "pc"}, headers=headers
    )
    assert made.status_code == 201, made.text
    instance = made.json()["id"]
    check = {"license_key": lk["key"], "license_key_instance_id": instance}
    assert net.post(url + "/validate", json=check, headers=headers).json() == {
        "valid": True,
        "state": "valid",
    }
    gone = net.post(url + "/deactivate", json=check, headers=headers)
    assert (gone.status_code, gone.content) == (200, b"")
    assert net.post(url + "/validate", json=check, headers=headers).json() == {
        "valid": False,
        "state": "valid",
    }


def test_404_unknown_ids(tenant: Tenant) -> None:
    product_id, customer_id, lk = setup_key(tenant)
    with tenant.http() as http:
        body = {"customer_id": "cus_nope", "product_id": product_id, "key": unique()}
        expect_error(http.post("/license_keys", json=body), 404, "CUSTOMER_NOT_FOUND")
        body = {"customer_id": customer_id, "product_id": "pdt_nope", "key": unique()}
        expect_error(http.post("/license_keys", json=body), 404, "PRODUCT_NOT_FOUND")
        for path, code in [
            ("/customers/cus_nope", "CUSTOMER_NOT_FOUND"),
            ("/products/pdt_nope", "PRODUCT_NOT_FOUND"),
            ("/license_keys/lic_nope", "LICENSE_KEY_NOT_FOUND"),
            ("/license_keys/" + "x" * 300, "LICENSE_KEY_NOT_FOUND"),
            ("/license_key_instances/lki_nope", "LICENSE_KEY_INSTANCE_NOT_FOUND"),
        ]:
            expect_error(http.get(path), 404, code)
        expect_error(http.get("/nowhere"), 404, "NOT_FOUND")
        expect_error(http.delete("/customers"), 405, "METHOD_NOT_ALLOWED")
    url = tenant.base_url + "/licenses"
    resp = net.post(url + "/activate", json={"license_key": unique(), "name": "x"})
    expect_error(resp, 404, "LICENSE_KEY_NOT_FOUND")
    bad = {"license_key": unique(), "license_key_instance_id": "lki_nope"}
    expect_error(net.post(url + "/deactivate", json=bad), 404, "LICENSE_KEY_NOT_FOUND")
    bad["license_key"] = lk["key"]
    resp = net.post(url + "/deactivate", json=bad)
    expect_error(resp, 404, "LICENSE_KEY_INSTANCE_NOT_FOUND")
    big = net.post(url + "/activate", content=b"x" * (1024 * 1024 + 1))
    expect_error(big, 413, "PAYLOAD_TOO_LARGE")


def test_other_business_and_other_mode_are_404(server: Server) -> None:
    owner = server.tenant()
    product_id, customer_id, lk = setup_key(owner)
    instance_id = activate(owner.base_url, lk["key"]).json()["id"]
    strangers = [
        server.tenant(),  # another business, same mode
        server.tenant(mode="live"),  # another business, live mode
        Tenant(
            owner.business_id,
            issue_api_key(server, owner.business_id, "live"),
            server.face("live"),
        ),
    ]
    cases = [
        ("/customers/" + customer_id, {"name": "Mallory"}, "CUSTOMER_NOT_FOUND"),
        ("/products/" + product_id, {"name": "Stolen"}, "PRODUCT_NOT_FOUND"),
        ("/license_keys/" + lk["id"], {"disabled": True}, "LICENSE_KEY_NOT_FOUND"),
        ("/license_key_instances/" + instance_id, {"name": "x"}, "LICENSE_KEY_INSTANCE_NOT_FOUND"),
    ]
    for stranger in strangers:
        own_product, own_customer = make_product(stranger), make_customer(stranger)
        with stranger.http() as http:
            for path, patch, code in cases:
                expect_error(http.get(path), 404, code)
                expect_error(http.patch(path, json=patch), 404, code)
            body = {"customer_id": customer_id, "product_id": own_product, "key": unique()}
            expect_error(http.post("/license_keys", json=body), 404, "CUSTOMER_NOT_FOUND")
            body = {"customer_id": own_customer, "product_id": product_id, "key": unique()}
            expect_error(http.post("/license_keys", json=body), 404, "PRODUCT_NOT_FOUND")
            assert http.get("/license_keys", params={"customer_id": customer_id}).json() == {
                "items": []
            }
            assert http.get("/license_keys", params={"product_id": product_id}).json() == {
                "items": []
            }
            listed = http.get("/license_key_instances", params={"license_key_id": lk["id"]})
            assert listed.json() == {"items": []}
            assert http.get("/customers").json()["items"][0]["customer_id"] == own_customer
    # nothing was changed by the strangers
    with owner.http() as http:
        assert http.get("/customers/" + customer_id).json()["name"] == "Buyer"
        assert http.get("/products/" + product_id).json()["name"] == "Product"
        assert http.get("/license_keys/" + lk["id"]).json()["status"] == "active"
        assert http.get("/license_key_instances/" + instance_id).json()["name"] == "laptop"
        assert len(http.get("/license_keys").json()["items"]) == 1


def test_409_duplicate_key_reveals_nothing(server: Server) -> None:
    first, second = server.tenant(), server.tenant()
    _, _, lk = setup_key(first)
    p1, c1 = make_product(first), make_customer(first)
    p2, c2 = make_product(second), make_customer(second)
    with first.http() as http:
        same = http.post(
            "/license_keys", json={"customer_id": c1, "product_id": p1, "key": lk["key"]}
        )
    with second.http() as http:
        other = http.post(
            "/license_keys", json={"customer_id": c2, "product_id": p2, "key": lk["key"]}
        )
        assert http.get("/license_keys").json() == {"items": []}
    expect_error(same, 409, "LICENSE_KEY_ALREADY_EXISTS")
    expect_error(other, 409, "LICENSE_KEY_ALREADY_EXISTS")
    assert same.content == other.content
    assert first.business_id.encode() not in other.content
    assert lk["id"].encode() not in other.content
    with first.http() as http:
        assert [k["id"] for k in http.get("/license_keys").json()["items"]] == [lk["id"]]


def test_limit_disabled_expired_on_activate(tenant: Tenant) -> None:
    product_id, customer_id, lk = setup_key(tenant, activations_limit=2)
    assert [activate(tenant.base_url, lk["key"]).status_code for _ in range(2)] == [201, 201]
    expect_error(activate(tenant.base_url, lk["key"]), 422, "LICENSE_KEY_LIMIT_REACHED")
    zero = make_key(tenant, customer_id, product_id, unique(), activations_limit=0)
    expect_error(activate(tenant.base_url, zero["key"]), 422, "LICENSE_KEY_LIMIT_REACHED")
    with tenant.http() as http:
        assert http.get(f"/license_keys/{lk['id']}").json()["instances_count"] == 2
        http.patch(f"/license_keys/{lk['id']}", json={"disabled": True})
        expect_error(activate(tenant.base_url, lk["key"]), 422, "LICENSE_KEY_DISABLED")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    old = make_key(tenant, customer_id, product_id, unique(), expires_at=past)
    assert old["status"] == "expired"
    expect_error(activate(tenant.base_url, old["key"]), 422, "LICENSE_KEY_EXPIRED")
    with tenant.http() as http:
        listed = http.get("/license_key_instances").json()["items"]
    assert len(listed) == 2


def test_limit_below_instance_count(tenant: Tenant) -> None:
    _, _, lk = setup_key(tenant, activations_limit=3)
    for _ in range(2):
        assert activate(tenant.base_url, lk["key"]).status_code == 201
    path = f"/license_keys/{lk['id']}"
    with tenant.http() as http:
        resp = http.patch(path, json={"activations_limit": 1, "disabled": True})
        expect_error(resp, 422, "ACTIVATION_LIMIT_LESS_THAN_CURRENT_AMOUNT")
        after = http.get(path).json()
        assert (after["activations_limit"], after["status"]) == (3, "active")
        assert http.patch(path, json={"activations_limit": 2}).json()["activations_limit"] == 2
    expect_error(activate(tenant.base_url, lk["key"]), 422, "LICENSE_KEY_LIMIT_REACHED")


def test_patch_semantics(tenant: Tenant) -> None:
    when = "2030-06-01T00:00:00+00:00"
    _, customer_id, lk = setup_key(tenant, activations_limit=5, expires_at=when)
    path = f"/license_keys/{lk['id']}"
    with tenant.http() as http:
        same = http.patch(path, json={}).json()
        assert (same["activations_limit"], same["status"]) == (5, "active")
        assert datetime.fromisoformat(same["expires_at"]) == datetime.fromisoformat(when)
        one = http.patch(path, json={"activations_limit": None}).json()
        assert (one["activations_limit"], one["expires_at"]) == (None, same["expires_at"])
        two = http.patch(path, json={"expires_at": None, "disabled": True}).json()
        assert (two["activations_limit"], two["expires_at"], two["status"]) == (
            None,
            None,
            "disabled",
        )
        three = http.patch(path, json={"disabled": None}).json()
        assert three["status"] == "active"
        cpath = f"/customers/{customer_id}"
        http.patch(cpath, json={"phone_number": "+1555", "metadata": {"a": "b"}})
        kept = http.patch(cpath, json={"name": "New"}).json()
        assert (kept["name"], kept["email"], kept["phone_number"], kept["metadata"]) == (
            "New",
            "buyer@example.test",
            "+1555",
            {"a": "b"},
        )
        cleared = http.patch(cpath, json={"phone_number": None, "metadata": None}).json()
        assert (cleared["phone_number"], cleared["metadata"]) == (None, {})
        expect_error(http.patch(cpath, json={"email": None}), 422, "VALIDATION_ERROR")
        assert http.get(cpath).json()["email"] == "buyer@example.test"


def test_status_is_computed_at_read_time(tenant: Tenant) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    _, _, lk = setup_key(tenant, expires_at=soon.isoformat())
    with tenant.http() as http:
        assert http.get(f"/license_keys/{lk['id']}").json()["status"] == "active"
        ids = [
            k["id"] for k in http.get("/license_keys", params={"status": "active"}).json()["items"]
        ]
        assert ids == [lk["id"]]
        time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
        assert http.get(f"/license_keys/{lk['id']}").json()["status"] == "expired"
        expired = http.get("/license_keys", params={"status": "expired"}).json()["items"]
        assert [k["id"] for k in expired] == [lk["id"]]
        assert http.get("/license_keys", params={"status": "active"}).json() == {"items": []}
    check = net.post(tenant.base_url + "/licenses/validate", json={"license_key": lk["key"]})
    assert check.json() == {"valid": False, "state": "expired"}


def test_failed_creates_write_nothing(tenant: Tenant) -> None:
    product_id, customer_id, lk = setup_key(tenant)
    with tenant.http() as http:
        before_keys = http.get("/license_keys").json()
        before_customers = http.get("/customers").json()
        attempts = [
            {"customer_id": customer_id, "product_id": product_id, "key": lk["key"]},
            {"customer_id": customer_id, "product_id": "pdt_missing", "key": unique()},
            {"customer_id": "cus_missing", "product_id": product_id},
            {"customer_id": customer_id, "product_id": product_id, "activations_limit": -1},
        ]
        statuses = [http.post("/license_keys", json=a).status_code for a in attempts]
        assert statuses == [409, 404, 404, 422]
        assert http.post("/customers", json={"email": "bad", "name": "X"}).status_code == 422
        assert http.get("/license_keys").json() == before_keys
        assert http.get("/customers").json() == before_customers
    # the failed imports did not take their key string either
    fresh = attempts[1]["key"]
    assert make_key(tenant, customer_id, product_id, fresh)["key"] == fresh
