"""The staff/reseller refusal cannot be spelled around: domains are compared canonical
(case, trailing dot, IDNA), IP literals and invisible characters are refused."""

from __future__ import annotations

import uuid

import pytest

from tests.desk_helpers import error, legacy_body, ok, setup
from tests.mail import deliveries, issue_key, owner_of
from tests.servers import Server, Tenant

FULLWIDTH_STAFF = "\uff53\uff54\uff41\uff46\uff46.test"  # "staff.test" in fullwidth letters


def buyer(domain: str) -> str:
    return f"dev-{uuid.uuid4().hex[:8]}@{domain}"


@pytest.fixture
def guarded(shop: Tenant) -> Tenant:
    with shop.http() as client:
        put = client.put(
            "/mail_settings",
            json={
                "staff_domains": ["Staff.Test.", "xn--bcher-kva.test"],
                "reseller_domains": ["resell.test"],
            },
        )
    assert put.status_code == 200, put.text
    assert put.json()["staff_domains"] == ["staff.test", "xn--bcher-kva.test"]
    return shop


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("staff.test.", "RECIPIENT_IS_STAFF"),
        ("STAFF.TEST.", "RECIPIENT_IS_STAFF"),
        ("eu.staff.test.", "RECIPIENT_IS_STAFF"),
        (FULLWIDTH_STAFF, "RECIPIENT_IS_STAFF"),
        ("b\u00fccher.test", "RECIPIENT_IS_STAFF"),  # the IDN of a punycode staff domain
        ("B\u00dcCHER.test.", "RECIPIENT_IS_STAFF"),
        ("resell.test.", "RECIPIENT_IS_RESELLER"),
        ("[127.0.0.1]", "EMAIL_DOMAIN_IS_IP_ADDRESS"),
        ("[IPv6:::ffff:127.0.0.1]", "EMAIL_DOMAIN_IS_IP_ADDRESS"),
        ("127.0.0.1", "EMAIL_DOMAIN_IS_IP_ADDRESS"),
        ("10.0.0.1.", "EMAIL_DOMAIN_IS_IP_ADDRESS"),
        ("staff\u200b.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),  # zero-width space
        ("sta\u00adff.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),  # soft hyphen
        ("\u202estaff.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),  # right-to-left override
        ("staff.test\u2060", "EMAIL_HAS_INVISIBLE_CHARACTERS"),  # word joiner
        ("staff\ufe0f.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),  # variation selector
        ("staff\u3164.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),  # Hangul filler
    ],
)
def test_redirect_to_a_disguised_address_is_refused(
    guarded: Tenant, domain: str, code: str
) -> None:
    with guarded.http() as client:
        issued = issue_key(client, buyer("customer.test"))
        response = client.post(
            f"/license_keys/{issued.key_id}/deliveries",
            json={"to": buyer(domain), "reason": "forward it"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
    assert deliveries(guarded, issued.key_id) == []  # nothing half-written


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("staff.test.", "RECIPIENT_IS_STAFF"),
        ("resell.test.", "RECIPIENT_IS_RESELLER"),
        ("[127.0.0.1]", "EMAIL_DOMAIN_IS_IP_ADDRESS"),
        ("customer\u200d.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),
    ],
)
def test_a_customer_at_a_disguised_address_gets_nothing(
    guarded: Tenant, domain: str, code: str
) -> None:
    with guarded.http() as client:
        issued = issue_key(client, buyer(domain))
        response = client.post(f"/license_keys/{issued.key_id}/deliveries")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code


def test_the_owner_with_a_trailing_dot_is_still_staff(guarded: Tenant, mail_server: Server) -> None:
    owner = owner_of(mail_server, guarded)
    local, _, domain = owner.partition("@")
    with guarded.http() as client:
        issued = issue_key(client, buyer("customer.test"))
        for spelled in (f"{local}@{domain}.", f"{local.upper()}@{domain.upper()}."):
            response = client.post(
                f"/license_keys/{issued.key_id}/deliveries",
                json={"to": spelled, "reason": "to me"},
            )
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "RECIPIENT_IS_STAFF"


def test_ordinary_and_international_addresses_still_go_out(guarded: Tenant) -> None:
    with guarded.http() as client:
        issued = issue_key(client, buyer("customer.test."))
        assert client.post(f"/license_keys/{issued.key_id}/deliveries").status_code == 202
        idn = client.post(
            f"/license_keys/{issued.key_id}/deliveries",
            json={"to": buyer("m\u00fcller.test"), "reason": "the admin"},
        )
        assert idn.status_code == 202, idn.text


@pytest.mark.parametrize(
    "domain",
    ["[127.0.0.1]", "127.0.0.1", "staff\u200b.test", "sta\u00adff.test", "exa mple.test"],
)
def test_staff_domains_themselves_are_checked(shop: Tenant, domain: str) -> None:
    with shop.http() as client:
        response = client.put("/mail_settings", json={"staff_domains": [domain]})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_staff_domains_are_stored_canonical(shop: Tenant) -> None:
    with shop.http() as client:
        put = client.put(
            "/mail_settings",
            json={"staff_domains": ["B\u00dccher.Test.", FULLWIDTH_STAFF, "staff.test"]},
        )
    assert put.status_code == 200, put.text
    assert put.json()["staff_domains"] == ["staff.test", "xn--bcher-kva.test"]


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("eng@staff.test.", "RECIPIENT_IS_STAFF"),
        ("eng@[127.0.0.1]", "EMAIL_DOMAIN_IS_IP_ADDRESS"),
        ("eng@staff\u200b.test", "EMAIL_HAS_INVISIBLE_CHARACTERS"),
    ],
)
def test_the_desk_refuses_disguised_addresses_before_writing(
    guarded: Tenant, email: str, code: str
) -> None:
    with guarded.http() as client:
        p, c, s = setup(client)
        before = ok(client.get("/licenses"))
        body = {**legacy_body(p, c, s), "email": email, "send_email": True}
        error(client.post("/licenses", json=body), 422, code)
        assert ok(client.get("/licenses")) == before  # no license without its email


@pytest.mark.parametrize("field", ["sender_email", "reply_to"])
@pytest.mark.parametrize(
    "address",
    ["security@pay\u200bpal.com", "security@[127.0.0.1]", "sec\u202eurity@paypal.com"],
)
def test_sender_and_reply_to_cannot_hide_what_they_are(
    shop: Tenant, field: str, address: str
) -> None:
    with shop.http() as client:
        response = client.put("/mail_settings", json={field: address})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
