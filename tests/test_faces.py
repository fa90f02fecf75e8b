"""The mode is in the URL: the root serves live mode only, `/test` test mode only, and a
caller that names its product hears only about that product's keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import net
from tests.desk_helpers import setup as desk_setup
from tests.helpers import make_customer, make_key, make_product, setup_key, unique
from tests.instance_keys.helpers import PASSWORD, bearer, org_with_people
from tests.servers import Server, Tenant


def _post(base_url: str, route: str, body: dict[str, Any]) -> httpx.Response:
    return net.post(base_url + route, json=body, timeout=30)


def _unknown_answers(base_url: str) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """What a key that never existed gets on this face, for the three public routes."""
    ghost = unique("GHOST")
    return (
        _post(base_url, "/licenses/validate", {"license_key": ghost}),
        _post(base_url, "/licenses/activate", {"license_key": ghost, "name": "m"}),
        _post(
            base_url,
            "/licenses/deactivate",
            {"license_key": ghost, "license_key_instance_id": "lki_x"},
        ),
    )


def _same(got: httpx.Response, want: httpx.Response) -> None:
    assert (got.status_code, got.content) == (want.status_code, want.content)


@pytest.mark.parametrize("mode", ["test", "live"])
def test_a_key_is_known_only_on_its_own_face(server: Server, mode: str) -> None:
    tenant = server.tenant(mode=mode)
    _, _, lk = setup_key(tenant)
    own, other = server.face(mode), server.face("live" if mode == "test" else "test")
    assert _post(own, "/licenses/validate", {"license_key": lk["key"]}).json() == {
        "valid": True,
        "state": "valid",
    }
    made = _post(own, "/licenses/activate", {"license_key": lk["key"], "name": "m"})
    assert made.status_code == 201, made.text
    instance = made.json()["id"]
    validate, activate, deactivate = _unknown_answers(other)
    on_other = {"license_key": lk["key"], "license_key_instance_id": instance}
    _same(_post(other, "/licenses/validate", {"license_key": lk["key"]}), validate)
    _same(_post(other, "/licenses/validate", on_other), validate)
    _same(_post(other, "/licenses/activate", {"license_key": lk["key"], "name": "m"}), activate)
    _same(_post(other, "/licenses/deactivate", on_other), deactivate)
    assert validate.json() == {"valid": False}
    assert activate.status_code == deactivate.status_code == 404
    # nothing was taken or freed through the other face
    with tenant.http() as http:
        assert http.get(f"/license_keys/{lk['id']}").json()["instances_count"] == 1


def test_product_id_pins_the_answer_to_one_product(server: Server) -> None:
    tenant = server.tenant()
    product_id, customer_id, lk = setup_key(tenant)
    other_product = make_product(tenant, name="Other")
    other_key = make_key(tenant, customer_id, other_product, unique())
    stranger = server.tenant()
    stranger_product, _, stranger_key = setup_key(stranger)
    base = tenant.base_url
    validate, activate, deactivate = _unknown_answers(base)

    def pinned(key: str, product: str, **more: str) -> dict[str, str]:
        return {"license_key": key, "product_id": product, **more}

    assert _post(base, "/licenses/validate", pinned(lk["key"], product_id)).json() == {
        "valid": True,
        "state": "valid",
    }
    for key, product in [
        (lk["key"], other_product),  # this vendor's key, another of its products
        (other_key["key"], product_id),
        (stranger_key["key"], product_id),  # another vendor's key
        (lk["key"], stranger_product),
    ]:
        _same(_post(base, "/licenses/validate", pinned(key, product)), validate)
        _same(_post(base, "/licenses/activate", pinned(key, product, name="m")), activate)
        body = pinned(key, product, license_key_instance_id="lki_x")
        _same(_post(base, "/licenses/deactivate", body), deactivate)
    made = _post(base, "/licenses/activate", pinned(lk["key"], product_id, name="m"))
    assert made.status_code == 201, made.text
    instance = made.json()["id"]
    body = pinned(lk["key"], product_id, license_key_instance_id=instance)
    assert _post(base, "/licenses/validate", body).json() == {"valid": True, "state": "valid"}
    body["product_id"] = other_product
    assert _post(base, "/licenses/validate", body).json() == {"valid": False}
    _same(_post(base, "/licenses/deactivate", body), deactivate)
    body["product_id"] = product_id
    assert _post(base, "/licenses/deactivate", body).status_code == 200


@pytest.mark.parametrize("mode", ["test", "live"])
def test_an_api_key_on_the_other_face_is_401_naming_the_right_base_url(
    server: Server, mode: str
) -> None:
    tenant = server.tenant(mode=mode)
    other = "live" if mode == "test" else "test"
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    with tenant.http() as http:
        assert http.get("/customers").status_code == 200
    wrong = net.get(server.face(other) + "/customers", headers=headers)
    assert wrong.status_code == 401
    body = wrong.json()
    assert body["code"] == "API_KEY_WRONG_MODE"
    assert f"use the base URL {server.face(mode)}" in body["message"]
    # a key that does not exist is still the plain 401 on either face
    bogus = {"Authorization": f"Bearer lk_{mode}_{'x' * 40}"}
    assert net.get(server.face(other) + "/customers", headers=bogus).json()["code"] == (
        "UNAUTHORIZED"
    )


def test_the_sdk_picks_the_mode_by_base_url(server: Server) -> None:
    from dodopayments import AuthenticationError

    tenant = server.tenant()  # test mode
    assert tenant.base_url == server.base_url + "/test"
    sdk = tenant.sdk()
    customer = sdk.customers.create(email="ann@example.test", name="Ann")
    product_id = make_product(tenant)
    key = sdk.license_keys.create(
        customer_id=customer.customer_id, product_id=product_id, key=unique()
    )
    pin = {"product_id": product_id}
    assert sdk.licenses.validate(license_key=key.key, extra_body=pin).valid is True
    assert sdk.licenses.validate(license_key=key.key, extra_body={"product_id": "p"}).valid is False
    live = Tenant(tenant.business_id, tenant.api_key, server.face("live")).sdk()
    with pytest.raises(AuthenticationError) as refused:
        live.customers.list()
    assert refused.value.status_code == 401
    assert live.licenses.validate(license_key=key.key).valid is False


def test_each_face_documents_itself(server: Server) -> None:
    live = net.get(server.face("live") + "/openapi.json")
    test = net.get(server.face("test") + "/openapi.json")
    assert live.status_code == test.status_code == 200
    assert "servers" not in live.json()
    assert test.json()["servers"] == [{"url": "/test"}]
    assert live.json()["paths"] == test.json()["paths"]
    assert "/test/openapi.json" in net.get(server.face("test") + "/docs").text
    assert net.get(server.face("live") + "/openapi.json").json().get("servers") is None


def test_instance_keys_and_member_tokens_are_unknown_on_the_other_face(server: Server) -> None:
    tenant = server.tenant()  # test mode
    org = org_with_people(tenant, roles=())
    owner = bearer(org.tokens["owner"])
    made = net.post(tenant.base_url + "/api/v1/licensing/keys", json={}, headers=owner)
    assert made.status_code == 201, made.text
    key = made.json()["licenseKey"]
    checkin = "/api/v1/licensing/validate"
    assert net.post(tenant.base_url + checkin, headers=bearer(key)).status_code == 200
    ghost = net.post(server.face("live") + checkin, headers=bearer("f" * 64))
    on_live = net.post(server.face("live") + checkin, headers=bearer(key))
    _same(on_live, ghost)
    assert on_live.status_code == 401
    members = "/api/v1/organization/members"
    assert net.get(tenant.base_url + members, headers=owner).status_code == 200
    refused = net.get(server.face("live") + members, headers=owner)
    assert (refused.status_code, refused.json()["code"]) == (401, "INVALID_TOKEN")


def test_customers_of_one_face_are_not_seen_on_the_other(server: Server) -> None:
    tenant = server.tenant()
    customer_id = make_customer(tenant)
    with tenant.http() as http:
        assert http.get(f"/customers/{customer_id}").status_code == 200
    path = server.face("live") + f"/customers/{customer_id}"
    assert net.get(path, headers={"Authorization": f"Bearer {tenant.api_key}"}).json()["code"] == (
        "API_KEY_WRONG_MODE"
    )


def test_cloud_activation_codes_and_licenses_are_unknown_on_the_other_face(
    server: Server,
) -> None:
    tenant = server.tenant()  # test mode
    with tenant.http() as http:
        _, _, sub = desk_setup(http, cloud_licensing="Yes", seat_reconciliation=True, users_count=5)
        code = http.get(f"/subscriptions/{sub['id']}/activation_code").json()["activation_code"]
    body = {"activation_code": code, "instance_id": "host-1"}
    live = server.face("live")
    ghost = _post(live, "/cloud/activate", {"activation_code": "X" * len(code), "instance_id": "h"})
    _same(_post(live, "/cloud/activate", body), ghost)
    assert ghost.status_code == 404
    held = _post(tenant.base_url, "/cloud/activate", body)
    assert held.status_code == 200, held.text
    usage = {"billable_users_count": 1, "max_historical_users_count": 1}
    usage["timestamp"] = held.json()["starts_at"]
    by_key = {"license_key": held.json()["license_key"], "instance_id": "host-1", **usage}
    ghost_key = _post(live, "/cloud/seat_links", {**by_key, "license_key": "Y" * 40})
    _same(_post(live, "/cloud/seat_links", by_key), ghost_key)
    _same(_post(live, "/cloud/seat_links", {**body, **usage}), ghost)
    assert ghost_key.status_code == 404


def test_jwks_sign_in_and_invites_belong_to_their_face(server: Server) -> None:
    tenant = server.tenant()  # test mode
    jwks = f"/.well-known/jwks/{tenant.business_id}/test.json"
    assert net.get(tenant.base_url + jwks).json()["keys"]
    on_live = net.get(server.face("live") + jwks)
    assert (on_live.status_code, on_live.json()["code"]) == (404, "BUSINESS_NOT_FOUND")
    org = org_with_people(tenant, roles=())
    members = net.get(
        tenant.base_url + "/api/v1/organization/members", headers=bearer(org.tokens["owner"])
    ).json()["items"]
    email = members[0]["email"]
    sign_in = {"email": email, "password": PASSWORD, "businessId": tenant.business_id}
    assert _post(tenant.base_url, "/api/v1/auth/login", sign_in).status_code == 200
    refused = _post(server.face("live"), "/api/v1/auth/login", sign_in)
    assert (refused.status_code, refused.json()["code"]) == (401, "INVALID_CREDENTIALS")
    invited = net.post(
        tenant.base_url + "/api/v1/organization/members",
        json={"email": f"inv-{unique()}@example.test", "role": "member"},
        headers=bearer(org.tokens["owner"]),
    )
    assert invited.status_code == 201, invited.text
    accept = {"inviteToken": invited.json()["inviteToken"], "password": PASSWORD}
    on_live = _post(server.face("live"), "/api/v1/auth/accept-invite", accept)
    assert (on_live.status_code, on_live.json()["code"]) == (401, "INVALID_INVITE")
    assert _post(tenant.base_url, "/api/v1/auth/accept-invite", accept).status_code == 200
