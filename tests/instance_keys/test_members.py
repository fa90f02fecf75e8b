"""Organisation people: the vendor's first owner, sign-in, invitations, roles, exactly one
owner (in the database too), ownership transfer, personal tokens, logout."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.ids import new_id
from licensor.models import OrgMember
from tests import net
from tests.instance_keys.helpers import (
    PASSWORD,
    bearer,
    in_db,
    login,
    new_org,
    org_with_people,
)
from tests.servers import Server, Tenant

API = "/api/v1"


@pytest.fixture(scope="module")
def tenant(server: Server) -> Tenant:
    return server.tenant()


def members(base_url: str, token: str) -> dict[str, dict[str, str]]:
    r = net.get(base_url + API + "/organization/members", headers=bearer(token))
    assert r.status_code == 200, r.text
    return {m["id"]: m for m in r.json()["items"]}


def test_vendor_adds_the_first_owner_once(tenant: Tenant) -> None:
    org_id = new_org(tenant)
    with tenant.http() as http:
        first = http.post(f"{API}/organizations/{org_id}/owner", json={"email": "O@Example.test"})
        again = http.post(f"{API}/organizations/{org_id}/owner", json={"email": "x@example.test"})
        missing = http.post(f"{API}/organizations/cus_nope/owner", json={"email": "x@example.test"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["role"], body["status"], body["email"]) == ("owner", "invited", "o@example.test")
    assert body["inviteToken"].startswith("lkv_")
    assert again.status_code == 409
    assert again.json()["code"] == "OWNER_EXISTS"
    assert missing.status_code == 404
    no_key = net.post(
        f"{tenant.base_url}{API}/organizations/{org_id}/owner", json={"email": "x@example.test"}
    )
    assert no_key.status_code == 401


def test_other_business_cannot_reach_the_organisation(server: Server, tenant: Tenant) -> None:
    org_id = new_org(tenant)
    other = server.tenant()
    with other.http() as http:
        r = http.post(f"{API}/organizations/{org_id}/owner", json={"email": "x@example.test"})
    assert r.status_code == 404
    assert r.json()["code"] == "ORGANIZATION_NOT_FOUND"


def test_invitation_sets_the_password_once(tenant: Tenant) -> None:
    org_id = new_org(tenant)
    with tenant.http() as http:
        invite = http.post(
            f"{API}/organizations/{org_id}/owner", json={"email": "inv@example.test"}
        )
    token = invite.json()["inviteToken"]
    as_bearer = net.get(tenant.base_url + API + "/organization/members", headers=bearer(token))
    assert as_bearer.status_code == 401
    before = net.post(
        tenant.base_url + API + "/auth/login",
        json={"email": "inv@example.test", "password": PASSWORD, "businessId": tenant.business_id},
    )
    assert before.status_code == 401
    url = tenant.base_url + API + "/auth/accept-invite"
    short = net.post(url, json={"inviteToken": token, "password": "short"})
    assert short.status_code == 422
    accepted = net.post(url, json={"inviteToken": token, "password": PASSWORD})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["role"] == "owner"
    assert accepted.json()["organizationId"] == org_id
    reused = net.post(url, json={"inviteToken": token, "password": PASSWORD + "!"})
    assert reused.status_code == 401
    assert login(tenant, "inv@example.test")["role"] == "owner"


def test_login_errors(tenant: Tenant) -> None:
    org = org_with_people(tenant, roles=())
    url = tenant.base_url + API + "/auth/login"
    email = next(iter(members(tenant.base_url, org.tokens["owner"]).values()))["email"]
    biz = {"businessId": tenant.business_id}
    wrong = net.post(url, json={"email": email, "password": "wrong password", **biz})
    nobody = net.post(url, json={"email": "nobody@example.test", "password": PASSWORD, **biz})
    bad = net.post(url, json={"email": "not an email", "password": PASSWORD, **biz})
    assert (wrong.status_code, nobody.status_code, bad.status_code) == (401, 401, 422)
    assert wrong.json() == nobody.json()
    session = login(tenant, email)
    assert session["tokenType"] == "Bearer"
    assert session["token"].startswith("lks_")
    assert session["expiresAt"].endswith("+00:00")


def test_same_email_in_two_organisations_needs_organization_id(tenant: Tenant) -> None:
    email = f"both-{uuid.uuid4().hex[:6]}@example.test"
    orgs = [new_org(tenant), new_org(tenant)]
    with tenant.http() as http:
        for org_id in orgs:
            r = http.post(
                f"{API}/organizations/{org_id}/owner", json={"email": email, "password": PASSWORD}
            )
            assert r.status_code == 201
    ambiguous = net.post(
        tenant.base_url + API + "/auth/login",
        json={"email": email, "password": PASSWORD, "businessId": tenant.business_id},
    )
    assert ambiguous.status_code == 400
    assert ambiguous.json()["code"] == "ORGANIZATION_REQUIRED"
    assert login(tenant, email, orgs[1])["organizationId"] == orgs[1]


def test_roles_and_their_limits(tenant: Tenant) -> None:
    org = org_with_people(tenant)
    owner, admin = org.tokens["owner"], org.tokens["admin"]
    url = tenant.base_url + API + "/organization/members"
    dup = net.post(
        url,
        json={"email": members(tenant.base_url, owner)[org.member_ids["admin"]]["email"]},
        headers=bearer(owner),
    )
    assert dup.status_code == 409
    as_owner = net.post(
        url, json={"email": "o2@example.test", "role": "owner"}, headers=bearer(admin)
    )
    assert as_owner.status_code == 422
    demote_owner = net.patch(
        f"{url}/{org.member_ids['owner']}", json={"role": "member"}, headers=bearer(admin)
    )
    assert demote_owner.status_code == 409
    remove_owner = net.delete(f"{url}/{org.member_ids['owner']}", headers=bearer(admin))
    assert remove_owner.status_code == 409
    demote = net.patch(
        f"{url}/{org.member_ids['admin']}", json={"role": "member"}, headers=bearer(owner)
    )
    assert demote.status_code == 200
    assert demote.json()["role"] == "member"
    now_member = net.get(tenant.base_url + API + "/licensing/keys", headers=bearer(admin))
    assert now_member.status_code == 403
    gone = net.delete(f"{url}/{org.member_ids['member']}", headers=bearer(owner))
    assert gone.status_code == 204
    after = net.get(url, headers=bearer(org.tokens["member"]))
    assert after.status_code == 401
    assert net.delete(f"{url}/{org.member_ids['member']}", headers=bearer(owner)).status_code == 404


def test_transfer_ownership(tenant: Tenant) -> None:
    org = org_with_people(tenant)
    url = tenant.base_url + API + "/organization/transfer-ownership"
    r = net.post(
        url, json={"memberId": org.member_ids["member"]}, headers=bearer(org.tokens["owner"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "owner"
    people = members(tenant.base_url, org.tokens["member"])
    roles = sorted(m["role"] for m in people.values())
    assert roles == ["admin", "admin", "owner"]
    assert people[org.member_ids["owner"]]["role"] == "admin"
    keys = tenant.base_url + API + "/licensing/keys"
    assert net.post(keys, json={}, headers=bearer(org.tokens["owner"])).status_code == 403
    assert net.post(keys, json={}, headers=bearer(org.tokens["member"])).status_code == 201
    unknown = net.post(url, json={"memberId": "mem_nope"}, headers=bearer(org.tokens["member"]))
    assert unknown.status_code == 404
    invitee = net.post(
        tenant.base_url + API + "/organization/members",
        json={"email": "pending@example.test"},
        headers=bearer(org.tokens["member"]),
    ).json()["id"]
    pending = net.post(url, json={"memberId": invitee}, headers=bearer(org.tokens["member"]))
    assert pending.status_code == 409


def test_database_allows_one_owner_only(server: Server, tenant: Tenant) -> None:
    org = org_with_people(tenant, roles=())

    async def second_owner(session: AsyncSession) -> None:
        session.add(
            OrgMember(
                id=new_id("mem"),
                business_id=tenant.business_id,
                mode="test",
                customer_id=org.id,
                email="second@example.test",
                role="owner",
            )
        )
        await session.flush()

    with pytest.raises(IntegrityError):
        in_db(server, second_owner)


def test_personal_tokens_and_logout(tenant: Tenant) -> None:
    org = org_with_people(tenant)
    base = tenant.base_url + API
    made = net.post(
        base + "/auth/tokens",
        json={"name": "ci", "expiresInDays": 30},
        headers=bearer(org.tokens["member"]),
    )
    assert made.status_code == 201
    pat = made.json()
    assert pat["token"].startswith("lkp_")
    assert pat["prefix"] == pat["token"][:8] + "…"
    listed = net.get(base + "/auth/tokens", headers=bearer(pat["token"]))
    assert listed.status_code == 200
    assert pat["token"] not in listed.text
    assert {t["kind"] for t in listed.json()["items"]} == {"session", "personal"}
    bad = net.post(base + "/auth/tokens", json={"expiresInDays": 0}, headers=bearer(pat["token"]))
    assert bad.status_code == 422
    # a member cannot revoke the admin's token; the admin can revoke the member's
    admin_pat = net.post(base + "/auth/tokens", json={}, headers=bearer(org.tokens["admin"])).json()
    denied = net.delete(f"{base}/auth/tokens/{admin_pat['id']}", headers=bearer(pat["token"]))
    assert denied.status_code == 404
    revoked = net.delete(f"{base}/auth/tokens/{pat['id']}", headers=bearer(org.tokens["admin"]))
    assert revoked.status_code == 200
    assert revoked.json()["revokedAt"] is not None
    assert net.get(base + "/auth/tokens", headers=bearer(pat["token"])).status_code == 401
    out = net.post(base + "/auth/logout", headers=bearer(org.tokens["member"]))
    assert out.status_code == 204
    again = net.get(base + "/auth/tokens", headers=bearer(org.tokens["member"]))
    assert again.status_code == 401
    assert again.json()["code"] == "TOKEN_REVOKED"


def test_concurrent_owner_changes_leave_exactly_one_owner(tenant: Tenant) -> None:
    from concurrent.futures import ThreadPoolExecutor

    org_id = new_org(tenant)
    url = f"{tenant.base_url}{API}/organizations/{org_id}/owner"
    auth = {"Authorization": f"Bearer {tenant.api_key}"}

    def add(i: int) -> int:
        body = {"email": f"racer{i}@example.test"}
        return net.post(url, json=body, headers=auth, timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(add, range(8)))
    assert statuses == [201] + [409] * 7

    org = org_with_people(tenant)
    transfer = tenant.base_url + API + "/organization/transfer-ownership"

    def hand_over(role: str) -> int:
        body = {"memberId": org.member_ids[role]}
        r = net.post(transfer, json=body, headers=bearer(org.tokens["owner"]), timeout=60)
        return r.status_code

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(hand_over, ["admin", "member"]))
    assert sorted(results) == [200, 403]  # the loser is no longer the owner
    people = members(tenant.base_url, org.tokens["admin"]).values()
    assert [m["role"] for m in people].count("owner") == 1
