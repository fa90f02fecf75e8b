"""Sign-in names its tenant: no answer depends on another business's members.

A vendor that adds another business's member's email to its own organisation neither
locks that person out nor learns anything: the person still signs in to their own
business, and the vendor's sign-in attempts for that email answer exactly as for an
email nobody uses.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests import net
from tests.instance_keys.helpers import PASSWORD, login, new_org, org_with_people
from tests.servers import Server, Tenant

LOGIN = "/api/v1/auth/login"


def sign_in(tenant: Tenant, **body: Any) -> httpx.Response:
    return net.post(tenant.base_url + LOGIN, json=body, timeout=30)


def owner_email(tenant: Tenant, org_id: str, email: str, password: str | None) -> httpx.Response:
    body = {"email": email} if password is None else {"email": email, "password": password}
    with tenant.http() as http:
        return http.post(f"/api/v1/organizations/{org_id}/owner", json=body)


def test_a_membership_elsewhere_does_not_lock_the_member_out(server: Server) -> None:
    home, stranger = server.tenant(), server.tenant()
    email = f"alice-{uuid.uuid4().hex[:6]}@example.test"
    home_org = new_org(home)
    assert owner_email(home, home_org, email, PASSWORD).status_code == 201
    # another vendor adds the same email to its own organisation, by invite and by password
    for password in (None, "the stranger's password"):
        added = owner_email(stranger, new_org(stranger), email, password)
        assert added.status_code == 201, added.text
    session = login(home, email)
    assert session["organizationId"] == home_org
    assert session["role"] == "owner"


def test_answers_do_not_depend_on_another_business(server: Server) -> None:
    home, stranger = server.tenant(), server.tenant()
    org = org_with_people(home, roles=())
    email = f"bob-{uuid.uuid4().hex[:6]}@example.test"
    nobody = f"nobody-{uuid.uuid4().hex[:6]}@example.test"
    assert owner_email(home, new_org(home), email, PASSWORD).status_code == 201
    assert org.tokens["owner"]
    theirs = {"businessId": stranger.business_id}
    # the right password for the home business's member, sent to the stranger's business
    right = sign_in(stranger, email=email, password=PASSWORD, **theirs)
    wrong = sign_in(stranger, email=email, password="not the password", **theirs)
    unknown = sign_in(stranger, email=nobody, password=PASSWORD, **theirs)
    for answer in (right, wrong, unknown):
        assert answer.status_code == 401, answer.text
    assert right.json() == wrong.json() == unknown.json()
    assert right.json()["code"] == "INVALID_CREDENTIALS"
    # the stranger's own organisation with that email changes nothing for the home business
    assert owner_email(stranger, new_org(stranger), email, None).status_code == 201
    assert login(home, email)["role"] == "owner"


def test_an_unknown_business_or_organisation_is_wrong_credentials(tenant: Tenant) -> None:
    email = f"carol-{uuid.uuid4().hex[:6]}@example.test"
    org_id = new_org(tenant)
    assert owner_email(tenant, org_id, email, PASSWORD).status_code == 201
    for body in ({"businessId": "bus_nope"}, {"organizationId": "cus_nope"}):
        answer = sign_in(tenant, email=email, password=PASSWORD, **body)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "INVALID_CREDENTIALS"
    by_org = sign_in(tenant, email=email, password=PASSWORD, organizationId=org_id)
    assert by_org.status_code == 200, by_org.text
    assert by_org.json()["organizationId"] == org_id


def test_sign_in_must_name_its_tenant(tenant: Tenant) -> None:
    email = f"dan-{uuid.uuid4().hex[:6]}@example.test"
    assert owner_email(tenant, new_org(tenant), email, PASSWORD).status_code == 201
    answer = sign_in(tenant, email=email, password=PASSWORD)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "TENANT_REQUIRED"
