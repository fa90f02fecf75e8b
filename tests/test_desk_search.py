"""Searching desk licenses and license keys (`email`, `company`, `q`, `trial`), and the
422 for a query parameter a list does not know."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.desk_helpers import customer, error, legacy_body, ok, setup
from tests.helpers import make_key, make_product, unique
from tests.servers import Tenant

NOTE = "Re-issue, https://support.example.test/tickets/9"


def _issue(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    p, c, s = setup(http)
    body = {**legacy_body(p, c, s), **fields}
    return ok(http.post("/licenses", json=body), 201)  # type: ignore[no-any-return]


def _ids(http: httpx.Client, path: str, **params: Any) -> set[str]:
    return {row["id"] for row in ok(http.get(path, params={"page_size": 100, **params}))["items"]}


def test_today_an_email_filter_was_ignored_now_it_filters(tenant: Tenant) -> None:
    """Today `GET /licenses?email=…` returned every license."""
    http = tenant.http()
    ann = _issue(http, email="Ann@Acme.test", company="Acme Ltd", name="Ann Archer")
    bob = _issue(http, email="bob@beta.test", company="Beta GmbH", name="Bob Baker")
    assert _ids(http, "/licenses", email="ann@acme.test") == {ann["id"]}
    assert _ids(http, "/licenses", email="bob@beta.test") == {bob["id"]}


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ({"email": "acme.test"}, {"ann", "amy"}),
        ({"email": "@ACME.test"}, {"ann", "amy"}),
        ({"email": " AMY@acme.test "}, {"amy"}),
        ({"company": "acme  ltd"}, {"ann"}),
        ({"company": "Acme Labs"}, {"amy"}),
        ({"q": "beta.test"}, {"bob"}),
        ({"q": "bob@beta.test"}, {"bob"}),
        ({"q": "beta gmbh"}, {"bob"}),
        ({"q": "Ann Archer"}, {"ann"}),
        ({"q": "nobody.test"}, set()),
        ({"email": "acme.test", "company": "Acme Labs"}, {"amy"}),
    ],
    ids=lambda v: str(sorted(v)) if isinstance(v, set) else str(v),  # the same in every worker
)
def test_search_by_email_domain_company_and_name(
    tenant: Tenant, query: dict[str, str], who: set[str]
) -> None:
    http = tenant.http()
    made = {
        "ann": _issue(http, email="Ann@Acme.test", company="Acme Ltd", name="Ann Archer"),
        "amy": _issue(http, email="amy@acme.test", company="ACME Labs", name="Amy Ash"),
        "bob": _issue(http, email="bob@beta.test", company="Beta GmbH", name="Bob Baker"),
    }
    assert _ids(http, "/licenses", **query) == {made[w]["id"] for w in who}


def test_search_box_finds_a_key_and_ids(tenant: Tenant) -> None:
    http = tenant.http()
    one = _issue(http)
    other = _issue(http)
    for term in (one["license_key"], one["id"], one["subscription_id"]):
        assert _ids(http, "/licenses", q=term) == {one["id"]}, term
    assert _ids(http, "/licenses", q=one["subscription_external_id"]) == {one["id"]}
    assert _ids(http, "/licenses", q=one["license_key"].lower()) == set()  # exact key only
    assert other["id"] in _ids(http, "/licenses")


def test_trial_label_marks_a_trial_and_search_filters_trials(tenant: Tenant) -> None:
    http = tenant.http()
    trial = _issue(http, label="Manually Generate Trial License")
    plain = _issue(http, label="Manually Generate License")
    assert trial["trial"] is True
    assert plain["trial"] is False
    assert _ids(http, "/licenses", trial="true") == {trial["id"]}
    assert _ids(http, "/licenses", trial="false") == {plain["id"]}
    # a trial note added later marks it too
    body = {"text": "Extended as a trial", "label": "Manually Generate Trial License"}
    ok(http.post(f"/licenses/{plain['id']}/notes", json=body), 201)
    assert _ids(http, "/licenses", trial="true") == {trial["id"], plain["id"]}


@pytest.mark.parametrize(
    "path",
    [
        "/licenses",
        "/license_keys",
        "/customers",
        "/products",
        "/subscriptions",
        "/license_key_instances",
        "/plans",
    ],
)
def test_an_unknown_query_parameter_is_a_422_naming_it(tenant: Tenant, path: str) -> None:
    http = tenant.http()
    got = error(
        http.get(path, params={"colour": "red", "page_size": 5, "zzz": "1"}),
        422,
        "UNKNOWN_QUERY_PARAMETER",
    )
    assert "colour" in got["message"]
    assert "zzz" in got["message"]
    assert "page_size" not in got["message"]
    ok(http.get(path, params={"page_size": 5, "page_number": 0}))


def test_the_sdk_list_parameters_keep_working(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    http = tenant.http()
    c = customer(http)
    sdk.license_keys.list(page_size=5, page_number=0, status="active", customer_id=c["customer_id"])
    sdk.customers.list(page_size=5, email=c["email"], name="Cora")
    sdk.license_key_instances.list(page_size=5, license_key_id="lic_none")


def test_license_keys_search_by_customer_email_company_and_key(tenant: Tenant) -> None:
    http = tenant.http()
    pid = make_product(tenant)
    ann = customer(http, email="ann@acme.test", name="Ann", metadata={"company": "Acme Ltd"})
    bob = customer(http, email="bob@beta.test", name="Bob Baker")
    ka = make_key(tenant, ann["customer_id"], pid, unique())
    kb = make_key(tenant, bob["customer_id"], pid, unique())
    keys = "/license_keys"
    assert _ids(http, keys, email="ANN@acme.test") == {ka["id"]}
    assert _ids(http, keys, email="beta.test") == {kb["id"]}
    assert _ids(http, keys, company="acme ltd") == {ka["id"]}
    assert _ids(http, keys, company="bob baker") == {kb["id"]}  # no company: the name
    assert _ids(http, keys, q=kb["key"]) == {kb["id"]}
    assert _ids(http, keys, q=ka["id"]) == {ka["id"]}
    assert _ids(http, keys, q="acme.test") == {ka["id"]}
    assert _ids(http, keys, q="Bob Baker") == {kb["id"]}
    assert _ids(http, keys, q="nobody") == set()
