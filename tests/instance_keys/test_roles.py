"""Every role x action: owner, admin, member, another organisation's owner, no token,
an expired token and a revoked token, on each route of organisations and instance keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from tests import net
from tests.instance_keys.helpers import (
    Org,
    bearer,
    expire_token,
    now,
    org_with_people,
    personal_token,
)
from tests.servers import Server

SUBJECTS = ("owner", "admin", "member", "other_owner", "no_token", "expired", "revoked")


@dataclass
class World:
    base_url: str
    a: Org
    b: Org
    headers: dict[str, dict[str, str]]

    def http(self) -> httpx.Client:
        return net.client(base_url=self.base_url, timeout=30)


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    tenant = server.tenant()
    a = org_with_people(tenant)
    b = org_with_people(tenant, roles=())
    expired = personal_token(tenant.base_url, a.tokens["owner"])
    expire_token(server, expired["id"], now() - timedelta(seconds=1))
    revoked = personal_token(tenant.base_url, a.tokens["owner"])
    r = net.delete(
        f"{tenant.base_url}/api/v1/auth/tokens/{revoked['id']}", headers=bearer(a.tokens["owner"])
    )
    assert r.status_code == 200, r.text
    headers = {
        "owner": bearer(a.tokens["owner"]),
        "admin": bearer(a.tokens["admin"]),
        "member": bearer(a.tokens["member"]),
        "other_owner": {**bearer(b.tokens["owner"]), "X-Organization-Id": a.id},
        "no_token": {},
        "expired": bearer(expired["token"]),
        "revoked": bearer(revoked["token"]),
    }
    return World(tenant.base_url, a, b, headers)


def _new_key(w: World) -> str:
    with w.http() as http:
        r = http.post("/api/v1/licensing/keys", json={}, headers=w.headers["owner"])
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _new_invitee(w: World) -> str:
    with w.http() as http:
        email = f"invitee-{uuid.uuid4().hex[:6]}@example.test"
        r = http.post(
            "/api/v1/organization/members", json={"email": email}, headers=w.headers["owner"]
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def create_key(w: World, h: dict[str, str]) -> httpx.Response:
    with w.http() as http:
        return http.post("/api/v1/licensing/keys", json={"instanceName": "Prod"}, headers=h)


def list_keys(w: World, h: dict[str, str]) -> httpx.Response:
    with w.http() as http:
        return http.get("/api/v1/licensing/keys", headers=h)


def revoke_key(w: World, h: dict[str, str]) -> httpx.Response:
    key_id = _new_key(w)
    h = {k: v for k, v in h.items() if k != "X-Organization-Id"}  # B's owner in B's own name
    with w.http() as http:
        return http.delete(f"/api/v1/licensing/keys/{key_id}", headers=h)


def list_members(w: World, h: dict[str, str]) -> httpx.Response:
    with w.http() as http:
        return http.get("/api/v1/organization/members", headers=h)


def add_member(w: World, h: dict[str, str]) -> httpx.Response:
    email = f"new-{uuid.uuid4().hex[:6]}@example.test"
    with w.http() as http:
        return http.post(
            "/api/v1/organization/members", json={"email": email, "role": "member"}, headers=h
        )


def change_role(w: World, h: dict[str, str]) -> httpx.Response:
    target = _new_invitee(w)
    with w.http() as http:
        return http.patch(
            f"/api/v1/organization/members/{target}", json={"role": "admin"}, headers=h
        )


def remove_member(w: World, h: dict[str, str]) -> httpx.Response:
    target = _new_invitee(w)
    with w.http() as http:
        return http.delete(f"/api/v1/organization/members/{target}", headers=h)


def transfer_to_nobody(w: World, h: dict[str, str]) -> httpx.Response:
    """The owner's success is covered in test_members (it changes the organisation)."""
    with w.http() as http:
        body = {"memberId": w.a.member_ids["admin"]}
        return http.post("/api/v1/organization/transfer-ownership", json=body, headers=h)


def create_token(w: World, h: dict[str, str]) -> httpx.Response:
    with w.http() as http:
        return http.post("/api/v1/auth/tokens", json={"name": "laptop"}, headers=h)


DENIED = {"other_owner": 403, "no_token": 401, "expired": 401, "revoked": 401}
MANAGERS = {"owner": 200, "admin": 200, "member": 403, **DENIED}

CASES: dict[str, tuple[Callable[[World, dict[str, str]], httpx.Response], dict[str, int]]] = {
    "create_key": (create_key, {"owner": 201, "admin": 403, "member": 403, **DENIED}),
    "list_keys": (list_keys, MANAGERS),
    "revoke_key": (revoke_key, {**MANAGERS, "other_owner": 404}),
    "list_members": (list_members, {"owner": 200, "admin": 200, "member": 200, **DENIED}),
    "add_member": (add_member, {"owner": 201, "admin": 201, "member": 403, **DENIED}),
    "change_role": (change_role, MANAGERS),
    "remove_member": (remove_member, {**MANAGERS, "owner": 204, "admin": 204}),
    "transfer_ownership": (
        transfer_to_nobody,
        {"admin": 403, "member": 403, **DENIED},
    ),
    "create_token": (create_token, {"owner": 201, "admin": 201, "member": 201, **DENIED}),
}

MATRIX = [
    (action, subject, expected[subject])
    for action, (_, expected) in CASES.items()
    for subject in SUBJECTS
    if subject in expected
]


@pytest.mark.parametrize(("action", "subject", "status"), MATRIX)
def test_role_matrix(world: World, action: str, subject: str, status: int) -> None:
    call, _ = CASES[action]
    r = call(world, world.headers[subject])
    assert r.status_code == status, r.text
    if status >= 400:
        body = r.json()
        assert set(body) == {"code", "message"}
        assert body["message"]
    if subject == "expired":
        assert r.json()["code"] == "TOKEN_EXPIRED"
    if subject == "revoked":
        assert r.json()["code"] == "TOKEN_REVOKED"
    if subject == "other_owner" and status == 403:
        assert r.json()["code"] == "NOT_A_MEMBER"


def test_member_of_other_org_sees_only_its_own_keys(world: World) -> None:
    with world.http() as http:
        mine = http.post("/api/v1/licensing/keys", json={}, headers=world.headers["owner"])
        theirs = http.post(
            "/api/v1/licensing/keys", json={}, headers=bearer(world.b.tokens["owner"])
        )
        assert mine.status_code == theirs.status_code == 201
        listed = http.get("/api/v1/licensing/keys", headers=bearer(world.b.tokens["owner"]))
    ids = {k["id"] for k in listed.json()["items"]}
    assert theirs.json()["id"] in ids
    assert mine.json()["id"] not in ids


def test_unknown_organisation_is_404(world: World) -> None:
    with world.http() as http:
        for path, method in (("/api/v1/licensing/keys", "POST"), ("/api/v1/licensing/keys", "GET")):
            r = http.request(
                method,
                path,
                json={} if method == "POST" else None,
                headers={**world.headers["owner"], "X-Organization-Id": "cus_doesnotexist"},
            )
            assert r.status_code == 404, r.text
            assert r.json()["code"] == "ORGANIZATION_NOT_FOUND"
        own = http.get(
            "/api/v1/licensing/keys",
            headers={**world.headers["owner"], "X-Organization-Id": world.a.id},
        )
        assert own.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer nonsense", "Basic abc", "Bearer lkp_" + "x" * 43, "Bearer " + "y" * 500],
)
def test_bad_tokens_are_401(world: World, authorization: str) -> None:
    with world.http() as http:
        r = http.get("/api/v1/licensing/keys", headers={"Authorization": authorization})
    assert r.status_code == 401
    assert set(r.json()) == {"code", "message"}
