"""Creating instance keys (the seed's shape), showing them once, listing masked, revoking."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest

from tests import net
from tests.instance_keys.helpers import Org, bearer, org_with_people
from tests.servers import Server

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


@pytest.fixture(scope="module")
def org(server: Server) -> Org:
    return org_with_people(server.tenant(), roles=("admin",))


@pytest.fixture(scope="module")
def base_url(server: Server) -> str:
    return server.face("test")


def test_create_key_matches_the_seed(base_url: str, org: Org) -> None:
    r = net.post(
        base_url + "/api/v1/licensing/keys",
        json={"instanceName": "Production Server"},
        headers=bearer(org.tokens["owner"]),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "licenseKey", "instanceName", "active", "createdAt"}
    key_id = uuid.UUID(body["id"])
    assert key_id.version == 7
    assert str(key_id) == body["id"]
    assert re.fullmatch(r"[0-9a-f]{64}", body["licenseKey"])
    assert body["instanceName"] == "Production Server"
    assert body["active"] is True
    assert ISO_WITH_OFFSET.match(body["createdAt"]), body["createdAt"]
    assert datetime.fromisoformat(body["createdAt"]).utcoffset() is not None


@pytest.mark.parametrize("body", [None, {}, {"instanceName": None}, {"other": 1}])
def test_instance_name_is_optional(base_url: str, org: Org, body: object) -> None:
    r = net.post(
        base_url + "/api/v1/licensing/keys", json=body, headers=bearer(org.tokens["owner"])
    )
    assert r.status_code == 201, r.text
    assert r.json()["instanceName"] is None


def test_keys_are_unique_and_unlimited(base_url: str, org: Org) -> None:
    keys = set()
    with net.client(base_url=base_url, headers=bearer(org.tokens["owner"])) as http:
        for i in range(12):
            r = http.post("/api/v1/licensing/keys", json={"instanceName": f"node {i}"})
            assert r.status_code == 201
            keys.add(r.json()["licenseKey"])
    assert len(keys) == 12


def test_key_is_shown_once_and_listed_masked(base_url: str, org: Org) -> None:
    with net.client(base_url=base_url, headers=bearer(org.tokens["owner"])) as http:
        created = http.post("/api/v1/licensing/keys", json={"instanceName": "Staging"}).json()
        listing = http.get("/api/v1/licensing/keys")
        admin_listing = http.get("/api/v1/licensing/keys", headers=bearer(org.tokens["admin"]))
    assert listing.status_code == admin_listing.status_code == 200
    secret = created["licenseKey"]
    assert secret not in listing.text
    assert secret not in admin_listing.text
    assert secret[4:-4] not in listing.text
    items = {k["id"]: k for k in listing.json()["items"]}
    mine = items[created["id"]]
    assert mine["maskedKey"].startswith(secret[:4])
    assert mine["maskedKey"].endswith(secret[-4:])
    assert mine["instanceName"] == "Staging"
    assert mine["active"] is True
    assert mine["createdAt"] == created["createdAt"]
    assert mine["lastSeenAt"] is None
    assert mine["revokedAt"] is None
    order = [k["createdAt"] for k in listing.json()["items"]]
    assert order == sorted(order, reverse=True)


def test_revoke_is_idempotent_and_shows_inactive(base_url: str, org: Org) -> None:
    with net.client(base_url=base_url, headers=bearer(org.tokens["owner"])) as http:
        key_id = http.post("/api/v1/licensing/keys", json={}).json()["id"]
        first = http.delete(f"/api/v1/licensing/keys/{key_id}")
        second = http.delete(f"/api/v1/licensing/keys/{key_id}")
        listed = {k["id"]: k for k in http.get("/api/v1/licensing/keys").json()["items"]}
    assert first.status_code == second.status_code == 200
    assert first.json()["active"] is False
    assert first.json()["revokedAt"] == second.json()["revokedAt"]
    assert listed[key_id]["active"] is False


@pytest.mark.parametrize(
    "key_id",
    [
        "nope",
        pytest.param(str(uuid.uuid4()), id="random-uuid"),
        "x" * 65,
        "0" * 36,
        "'; drop table x; --",
    ],
)
def test_revoke_unknown_key_is_404(base_url: str, org: Org, key_id: str) -> None:
    r = net.delete(
        f"{base_url}/api/v1/licensing/keys/{key_id}", headers=bearer(org.tokens["owner"])
    )
    assert r.status_code == 404, r.text
    assert set(r.json()) == {"code", "message"}


def test_nul_in_key_id_is_422(base_url: str, org: Org) -> None:
    r = net.delete(f"{base_url}/api/v1/licensing/keys/%00", headers=bearer(org.tokens["owner"]))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "content",
    [
        b'{"instanceName": 5}',
        b'{"instanceName": ""}',
        b'{"instanceName": "' + b"x" * 201 + b'"}',
        b"[1, 2]",
        b'{"instanceName": "a\\u0000b"}',
        b"not json",
        b'{"instanceName": "\xff\xfe"}',
    ],
)
def test_bad_bodies_are_4xx(base_url: str, org: Org, content: bytes) -> None:
    r = net.post(
        base_url + "/api/v1/licensing/keys",
        content=content,
        headers={**bearer(org.tokens["owner"]), "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
    assert set(r.json()) == {"code", "message"}
