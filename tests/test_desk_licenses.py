"""Issuing licenses at the desk: required fields per type, subscription checks, notes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.desk_helpers import (
    EXPIRES,
    STAFF_FIELDS,
    STARTS,
    customer,
    error,
    legacy_body,
    offline_setup,
    ok,
    setup,
    subscription,
)
from tests.servers import Tenant

NOT_TEXT = ("users_count", "starts_at", "expires_at")  # a number or a time has no blank form
DROPS = [(f, how) for f in STAFF_FIELDS for how in ("absent", "null", "blank")]


@pytest.mark.parametrize("license_type", ["legacy", "offline_cloud"])
@pytest.mark.parametrize(
    ("dropped", "how"), [d for d in DROPS if not (d[1] == "blank" and d[0] in NOT_TEXT)]
)
def test_each_required_field_is_named_when_missing(
    tenant: Tenant, license_type: str, dropped: str, how: str
) -> None:
    http = tenant.http()
    p, c, s = offline_setup(http)
    body: dict[str, Any] = {**legacy_body(p, c, s), "license_type": license_type}
    if how == "absent":
        del body[dropped]
    elif how == "null":
        body[dropped] = None
    else:
        body[dropped] = "   "
    got = error(http.post("/licenses", json=body), 422, "LICENSE_FIELDS_MISSING")
    assert got["fields"] == [dropped]
    assert dropped in got["message"]


@pytest.mark.parametrize("license_type", ["legacy", "offline_cloud", None])
def test_every_missing_field_is_named_at_once(tenant: Tenant, license_type: str | None) -> None:
    got = error(
        tenant.http().post("/licenses", json={"license_type": license_type}),
        422,
        "LICENSE_FIELDS_MISSING",
    )
    expected = [f for f in STAFF_FIELDS if not (license_type and f == "license_type")]
    assert got["fields"] == expected
    assert all(field in got["message"] for field in got["fields"])


def test_legacy_license_is_created_with_the_subscription_name_filled_in(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    body = legacy_body(p, c, s)
    lic = ok(http.post("/licenses", json=body), 201)
    assert lic["license_type"] == "legacy"
    assert lic["issued_by"] == "staff"
    assert lic["subscription_id"] == s["id"]
    assert lic["subscription_external_id"] == s["external_id"]
    assert lic["subscription_name"] == s["name"]
    assert (lic["name"], lic["company"], lic["email"]) == (
        "Lee Licensee",
        "Acme Ltd",
        "lee@acme.test",
    )
    assert lic["features"] == ["sso", "audit"]
    assert [n["text"] for n in lic["notes"]] == [body["notes"]]
    assert lic["notes"][0]["author"].startswith("api_key:")
    fetched = ok(http.get(f"/licenses/{lic['id']}"))
    assert fetched == lic


def test_subscription_may_be_given_by_licensor_id_and_author_is_kept(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    body = {**legacy_body(p, c, s), "subscription_id": s["id"], "author": "sam@support.test"}
    lic = ok(http.post("/licenses", json=body), 201)
    assert lic["subscription_external_id"] == s["external_id"]
    assert lic["notes"][0]["author"] == "sam@support.test"


def test_unknown_subscription_is_named(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    body = {**legacy_body(p, c, s), "subscription_id": "A-S-DOES-NOT-EXIST"}
    got = error(http.post("/licenses", json=body), 404, "SUBSCRIPTION_NOT_FOUND")
    assert "A-S-DOES-NOT-EXIST" in got["message"]


def test_another_tenants_subscription_is_unknown(server: Any) -> None:
    one, two = server.tenant(), server.tenant()
    _p, _c, s = setup(one.http())
    http = two.http()
    p2, c2, _ = setup(http)
    body = {**legacy_body(p2, c2, s), "subscription_id": s["id"]}
    error(http.post("/licenses", json=body), 404, "SUBSCRIPTION_NOT_FOUND")


@pytest.mark.parametrize(
    ("field", "value", "status", "code"),
    [
        ("plan_code", "no-such-plan", 404, "PLAN_NOT_FOUND"),
        ("customer_id", "cus_nope", 404, "CUSTOMER_NOT_FOUND"),
        pytest.param("expires_at", STARTS, 422, "INVALID_TERM", id="expires_at-STARTS-422"),
        ("users_count", 0, 422, "VALIDATION_ERROR"),
        ("email", "not-an-email", 422, "VALIDATION_ERROR"),
        ("license_type", "platinum", 422, "VALIDATION_ERROR"),
        ("starts_at", "yesterday", 422, "VALIDATION_ERROR"),
        ("expires_at", "9999-12-31T23:59:59-01:00", 422, "VALIDATION_ERROR"),
        ("starts_at", "0001-01-01T00:00:00+01:00", 422, "VALIDATION_ERROR"),
        ("users_count", True, 422, "VALIDATION_ERROR"),
        ("users_count", "25", 422, "VALIDATION_ERROR"),
        ("plan_code", 5, 422, "VALIDATION_ERROR"),
        ("subscription_id", "x" * 101, 422, "VALIDATION_ERROR"),
        ("notes", "n" * 10_001, 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_values_are_refused(
    tenant: Tenant, field: str, value: Any, status: int, code: str
) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    error(http.post("/licenses", json={**legacy_body(p, c, s), field: value}), status, code)


def test_subscription_of_another_customer_is_refused(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    other = customer(http)
    body = {**legacy_body(p, c, s), "customer_id": other["customer_id"]}
    error(http.post("/licenses", json=body), 422, "SUBSCRIPTION_CUSTOMER_MISMATCH")


def test_online_cloud_license_is_refused(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http, cloud_licensing="Yes", seat_reconciliation=True)
    body = {**legacy_body(p, c, s), "license_type": "online_cloud"}
    got = error(http.post("/licenses", json=body), 422, "ONLINE_CLOUD_LICENSE_NOT_SUPPORTED")
    assert "activation code" in got["message"]


def test_offline_cloud_license_is_created(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = offline_setup(http)
    body = {**legacy_body(p, c, s), "license_type": "offline_cloud"}
    lic = ok(http.post("/licenses", json=body), 201)
    assert lic["license_type"] == "offline_cloud"
    assert lic["subscription_name"] == s["name"]


def test_offline_cloud_license_on_a_cloud_licensing_no_subscription(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http, cloud_licensing="No", seat_reconciliation=False)
    ok(http.post(f"/subscriptions/{s['id']}/activation_code"), 201)
    body = {**legacy_body(p, c, s), "license_type": "offline_cloud"}
    assert ok(http.post("/licenses", json=body), 201)["license_type"] == "offline_cloud"


@pytest.mark.parametrize(
    ("sub_fields", "make_code", "code"),
    [
        ({"cloud_licensing": "Offline"}, False, "SUBSCRIPTION_NOT_CLOUD_COMPATIBLE"),
        ({}, False, "SUBSCRIPTION_NOT_CLOUD_COMPATIBLE"),
        (
            {"cloud_licensing": "Yes", "seat_reconciliation": True},
            False,
            "SUBSCRIPTION_CLOUD_LICENSING_NOT_OFFLINE",
        ),
        ({"seat_reconciliation": True}, True, "SUBSCRIPTION_CLOUD_LICENSING_NOT_OFFLINE"),
        (
            {"cloud_licensing": "Offline", "seat_reconciliation": True},
            False,
            "ACTIVATION_CODE_MISSING",
        ),
        ({"cloud_licensing": "No", "seat_reconciliation": False}, False, "ACTIVATION_CODE_MISSING"),
    ],
)
def test_offline_cloud_preconditions(
    tenant: Tenant, sub_fields: dict[str, Any], make_code: bool, code: str
) -> None:
    http = tenant.http()
    p, c, s = setup(http, **sub_fields)
    if make_code:
        ok(http.post(f"/subscriptions/{s['id']}/activation_code"), 201)
    body = {**legacy_body(p, c, s), "license_type": "offline_cloud"}
    got = error(http.post("/licenses", json=body), 422, code)
    assert s["external_id"] in got["message"]


def test_revoked_activation_code_no_longer_counts(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = offline_setup(http)
    assert http.delete(f"/subscriptions/{s['id']}/activation_code").status_code == 204
    body = {**legacy_body(p, c, s), "license_type": "offline_cloud"}
    error(http.post("/licenses", json=body), 422, "ACTIVATION_CODE_MISSING")


def test_notes_are_kept_and_listed(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    more = ok(
        http.post(
            f"/licenses/{lic['id']}/notes",
            json={"text": "Sent to the admin again", "author": "ann@support.test"},
        ),
        201,
    )
    assert [n["text"] for n in more["notes"]][1] == "Sent to the admin again"
    assert more["notes"][1]["author"] == "ann@support.test"
    error(http.post(f"/licenses/{lic['id']}/notes", json={"text": " "}), 422, "VALIDATION_ERROR")
    error(http.post("/licenses/dlc_nope/notes", json={"text": "x"}), 404, "LICENSE_NOT_FOUND")


def test_list_filters_and_scoping(server: Any) -> None:
    one, two = server.tenant(), server.tenant()
    http = one.http()
    p, c, s = setup(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    listed = ok(http.get("/licenses", params={"subscription_id": s["id"]}))["items"]
    assert [x["id"] for x in listed] == [lic["id"]]
    assert ok(http.get("/licenses", params={"license_type": "offline_cloud"}))["items"] == []
    error(two.http().get(f"/licenses/{lic['id']}"), 404, "LICENSE_NOT_FOUND")
    error(two.http().get(f"/licenses/{lic['id']}/file"), 404, "LICENSE_NOT_FOUND")
    assert http.get("/licenses", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_subscription_without_external_id_is_found_by_id(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, _ = setup(http)
    s = subscription(http, c["customer_id"], p["code"], external_id=None, name=None)
    body = {**legacy_body(p, c, s), "subscription_id": s["id"], "expires_at": EXPIRES}
    lic = ok(http.post("/licenses", json=body), 201)
    assert lic["subscription_external_id"] is None
