"""Duplicating (re-issuing) legacy licenses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.desk_helpers import (
    EXPIRES,
    customer,
    error,
    legacy_body,
    offline_setup,
    ok,
    setup,
    subscription,
)
from tests.servers import Tenant

NOTE = {"notes": "Customer asked for 5 more seats, https://support.example.test/tickets/7"}


def _legacy(http: Any) -> tuple[dict[str, Any], ...]:
    p, c, s = setup(http)
    return p, c, s, ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)


def test_duplicate_prefills_from_the_original_with_overrides(tenant: Tenant) -> None:
    http = tenant.http()
    _, _, s, lic = _legacy(http)
    dup = ok(http.post(f"/licenses/{lic['id']}/duplicate", json={**NOTE, "users_count": 30}), 201)
    assert dup["id"] != lic["id"]
    assert dup["license_key"] != lic["license_key"]
    assert dup["duplicated_from_id"] == lic["id"]
    assert dup["users_count"] == 30
    same = ("name", "company", "email", "plan_code", "starts_at", "expires_at", "customer_id")
    assert {k: dup[k] for k in same} == {k: lic[k] for k in same}
    assert dup["subscription_id"] == s["id"]
    assert [n["text"] for n in dup["notes"]] == [NOTE["notes"]]
    assert len(ok(http.get(f"/licenses/{lic['id']}"))["notes"]) == 1


def test_duplicate_needs_a_note(tenant: Tenant) -> None:
    http = tenant.http()
    *_, lic = _legacy(http)
    got = error(
        http.post(f"/licenses/{lic['id']}/duplicate", json={}), 422, "LICENSE_FIELDS_MISSING"
    )
    assert got["fields"] == ["notes"]


def test_changing_the_customer_keeps_the_licensee(tenant: Tenant) -> None:
    """The seed's bug: a new customer must not overwrite name, email and company."""
    http = tenant.http()
    p, _c, _, lic = _legacy(http)
    other = customer(http, name="Olga Other", metadata={"company": "Other GmbH"})
    sub = subscription(http, other["customer_id"], p["code"])
    body = {**NOTE, "customer_id": other["customer_id"], "subscription_id": sub["id"]}
    dup = ok(http.post(f"/licenses/{lic['id']}/duplicate", json=body), 201)
    assert dup["customer_id"] == other["customer_id"]
    assert (dup["name"], dup["company"], dup["email"]) == (
        "Lee Licensee",
        "Acme Ltd",
        "lee@acme.test",
    )


def test_customer_details_are_taken_only_when_asked(tenant: Tenant) -> None:
    http = tenant.http()
    p, _, _, lic = _legacy(http)
    other = customer(http, name="Olga Other", metadata={"company": "Other GmbH"})
    sub = subscription(http, other["customer_id"], p["code"])
    body = {
        **NOTE,
        "customer_id": other["customer_id"],
        "subscription_id": sub["id"],
        "use_customer_details": True,
    }
    dup = ok(http.post(f"/licenses/{lic['id']}/duplicate", json=body), 201)
    assert (dup["name"], dup["company"], dup["email"]) == (
        "Olga Other",
        "Other GmbH",
        other["email"],
    )


def test_explicit_licensee_overrides_are_kept(tenant: Tenant) -> None:
    http = tenant.http()
    *_, lic = _legacy(http)
    body = {**NOTE, "name": "New Name", "email": "new@acme.test", "expires_at": EXPIRES}
    dup = ok(http.post(f"/licenses/{lic['id']}/duplicate", json=body), 201)
    assert (dup["name"], dup["email"], dup["company"]) == ("New Name", "new@acme.test", "Acme Ltd")


def test_duplicate_as_offline_cloud_checks_the_subscription(tenant: Tenant) -> None:
    http = tenant.http()
    *_, lic = _legacy(http)
    body = {**NOTE, "license_type": "offline_cloud"}
    error(
        http.post(f"/licenses/{lic['id']}/duplicate", json=body),
        422,
        "SUBSCRIPTION_NOT_CLOUD_COMPATIBLE",
    )


@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({"customer_id": None}, 422, "LICENSE_FIELDS_MISSING"),
        ({"users_count": -1}, 422, "VALIDATION_ERROR"),
        ({"subscription_id": "nope"}, 404, "SUBSCRIPTION_NOT_FOUND"),
        ({"license_type": "online_cloud"}, 422, "ONLINE_CLOUD_LICENSE_NOT_SUPPORTED"),
        ({"use_customer_details": True, "customer_id": "cus_missing"}, 404, "CUSTOMER_NOT_FOUND"),
        ({"use_customer_details": True, "customer_id": None}, 422, "CUSTOMER_REQUIRED"),
    ],
)
def test_bad_duplicates(tenant: Tenant, override: dict[str, Any], status: int, code: str) -> None:
    http = tenant.http()
    *_, lic = _legacy(http)
    error(http.post(f"/licenses/{lic['id']}/duplicate", json={**NOTE, **override}), status, code)


def test_only_legacy_licenses_can_be_duplicated(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = offline_setup(http)
    offline = ok(
        http.post("/licenses", json={**legacy_body(p, c, s), "license_type": "offline_cloud"}), 201
    )
    got = error(
        http.post(f"/licenses/{offline['id']}/duplicate", json=NOTE), 409, "LICENSE_NOT_DUPLICABLE"
    )
    assert "offline_cloud" in got["message"]
    error(http.post("/licenses/dlc_missing/duplicate", json=NOTE), 404, "LICENSE_NOT_FOUND")
