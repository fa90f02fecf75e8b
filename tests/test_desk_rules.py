"""The desk's rules behind the console: a typed field wins over the customer's details, a
blank field is missing, strict cloud licensing, and notes with a ticket link and label."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.desk_helpers import customer, error, legacy_body, ok, setup, subscription
from tests.servers import Tenant

NOTE = {"notes": "Re-issue for a new admin, https://support.example.test/tickets/11"}


def _legacy(http: httpx.Client) -> tuple[dict[str, Any], ...]:
    p, c, s = setup(http)
    return p, c, s, ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)


def test_today_a_typed_name_was_overwritten_by_the_customers(tenant: Tenant) -> None:
    """Today a name given with `use_customer_details` lost to the customer's name."""
    http = tenant.http()
    p, _, _, lic = _legacy(http)
    other = customer(http, name="Olga Other", metadata={"company": "Other GmbH"})
    sub = subscription(http, other["customer_id"], p["code"])
    body = {
        **NOTE,
        "customer_id": other["customer_id"],
        "subscription_id": sub["id"],
        "use_customer_details": True,
        "name": "Typed Name",
        "company": "",  # blank: the customer's
    }
    dup = ok(http.post(f"/licenses/{lic['id']}/duplicate", json=body), 201)
    assert (dup["name"], dup["company"], dup["email"]) == (
        "Typed Name",
        "Other GmbH",
        other["email"],
    )


def test_today_a_blank_users_count_was_a_type_error(tenant: Tenant) -> None:
    """Today `users_count: ""` answered VALIDATION_ERROR instead of naming the field."""
    http = tenant.http()
    *_, lic = _legacy(http)
    body = {**NOTE, "users_count": "", "name": "  ", "plan_code": ""}
    got = error(
        http.post(f"/licenses/{lic['id']}/duplicate", json=body), 422, "LICENSE_FIELDS_MISSING"
    )
    assert got["fields"] == ["name", "users_count", "plan_code"]
    p, c, s = setup(http)
    create = {**legacy_body(p, c, s), "users_count": "", "email": " ", "notes": ""}
    create |= {"starts_at": "", "license_type": ""}
    got = error(http.post("/licenses", json=create), 422, "LICENSE_FIELDS_MISSING")
    assert got["fields"] == ["license_type", "email", "users_count", "starts_at", "notes"]


def test_required_fields_follow_the_chosen_type(tenant: Tenant) -> None:
    http = tenant.http()
    *_, lic = _legacy(http)
    body = {**NOTE, "license_type": "offline_cloud", "customer_id": "", "subscription_id": ""}
    got = error(
        http.post(f"/licenses/{lic['id']}/duplicate", json=body), 422, "LICENSE_FIELDS_MISSING"
    )
    assert got["fields"] == ["customer_id", "subscription_id"]
    assert "offline_cloud" in got["message"]


def test_today_a_cloud_licensing_yes_subscription_got_a_legacy_file(tenant: Tenant) -> None:
    """Strict cloud licensing: today a legacy license was issued for a "Yes" subscription."""
    http = tenant.http()
    p, c, s = setup(http, cloud_licensing="Yes", seat_reconciliation=True)
    got = error(
        http.post("/licenses", json=legacy_body(p, c, s)),
        422,
        "SUBSCRIPTION_CLOUD_LICENSING_ONLINE",
    )
    assert "activation code" in got["message"]
    assert ok(http.get("/licenses", params={"subscription_id": s["id"]}))["items"] == []
    # and a duplicate moved onto it is refused the same way
    *_, lic = _legacy(http)
    body = {**NOTE, "customer_id": c["customer_id"], "subscription_id": s["id"]}
    error(
        http.post(f"/licenses/{lic['id']}/duplicate", json=body),
        422,
        "SUBSCRIPTION_CLOUD_LICENSING_ONLINE",
    )


def test_notes_keep_a_ticket_link_and_a_label(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    body = {
        **legacy_body(p, c, s),
        "ticket_link": "https://support.example.test/tickets/42",
        "label": "Manually Generate License",
    }
    lic = ok(http.post("/licenses", json=body), 201)
    (note,) = lic["notes"]
    assert note["ticket_link"] == "https://support.example.test/tickets/42"
    assert note["label"] == "Manually Generate License"
    later = ok(
        http.post(
            f"/licenses/{lic['id']}/notes",
            json={"text": "Sent again", "ticket_link": "http://issues.example.test/1"},
        ),
        201,
    )
    assert [n["ticket_link"] for n in later["notes"]] == [
        "https://support.example.test/tickets/42",
        "http://issues.example.test/1",
    ]
    assert later["notes"][1]["label"] is None


@pytest.mark.parametrize(
    "field",
    [
        {"ticket_link": "javascript:alert(1)"},
        {"ticket_link": "ftp://example.test/x"},
        {"ticket_link": "https://"},
        {"ticket_link": "https://exa mple.test/"},
        {"label": "Generate Whatever"},
    ],
    ids=lambda v: str(v),
)
def test_bad_ticket_links_and_labels(tenant: Tenant, field: dict[str, str]) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    got = error(
        http.post("/licenses", json={**legacy_body(p, c, s), **field}), 422, "VALIDATION_ERROR"
    )
    assert next(iter(field)) in got["message"]
    assert ok(http.get("/licenses", params={"subscription_id": s["id"]}))["items"] == []
