"""Instance check-in: the answer follows the organisation's current subscription and plan,
is signed with the business's Ed25519 key, and records the instance's last check-in."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests import net
from tests.instance_keys.helpers import (
    bearer,
    change_subscription,
    make_plan,
    now,
    org_with_people,
    subscribe,
)
from tests.servers import Server, Tenant

VALIDATE = "/api/v1/licensing/validate"
GRACE = timedelta(days=7)  # the default LICENSOR_CHECKIN_GRACE_SECONDS


class Instance:
    """An organisation with an owner and one instance key."""

    def __init__(self, server: Server, tenant: Tenant) -> None:
        self.server = server
        self.tenant = tenant
        org = org_with_people(tenant, roles=())
        self.org_id = org.id
        self.owner = bearer(org.tokens["owner"])
        r = net.post(
            tenant.base_url + "/api/v1/licensing/keys",
            json={"instanceName": "Production"},
            headers=self.owner,
        )
        assert r.status_code == 201, r.text
        self.key_id = r.json()["id"]
        self.key = r.json()["licenseKey"]

    def check_in(self, body: dict[str, Any] | None = None) -> httpx.Response:
        return net.post(
            self.tenant.base_url + VALIDATE, json=body, headers=bearer(self.key), timeout=30
        )

    def license(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.check_in(body)
        assert r.status_code == 200, r.text
        verify(self.tenant, r.json())
        return dict(r.json()["license"])

    def license_soon(self, seen: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The answer once it shows a change written straight to the database by this test
        process (not through the server): the server's row cache learns of it by the
        database's change notice, within 1 s on PostgreSQL (kit/rowcache.py); at once on
        SQLite. The last answer when the second passes, for the test's assert to show."""
        deadline = time.monotonic() + 1.0
        lic = self.license()
        while not seen(lic) and time.monotonic() < deadline:
            time.sleep(0.02)
            lic = self.license()
        return lic

    def listed(self) -> dict[str, Any]:
        r = net.get(self.tenant.base_url + "/api/v1/licensing/keys", headers=self.owner)
        return next(k for k in r.json()["items"] if k["id"] == self.key_id)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(tenant: Tenant, answer: dict[str, Any]) -> None:
    """Verify as a self-hosted instance would: JWKS by kid, Ed25519 over canonical JSON."""
    assert answer["alg"] == "EdDSA"
    mode = answer["license"]["mode"]
    jwks = net.get(f"{tenant.base_url}/.well-known/jwks/{tenant.business_id}/{mode}.json").json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == answer["kid"])
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    message = json.dumps(
        answer["license"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    public.verify(b64url_decode(answer["signature"]), message)  # raises when it does not match


@pytest.fixture(scope="module")
def tenant(server: Server) -> Tenant:
    return server.tenant()


@pytest.fixture
def instance(server: Server, tenant: Tenant) -> Instance:
    return Instance(server, tenant)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_active_subscription_answer_is_signed(
    server: Server, tenant: Tenant, instance: Instance
) -> None:
    plan = make_plan(server, tenant, "premium", ["sso", "audit-log"])
    sub = subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1))
    lic = instance.license()
    assert lic["active"] is True
    assert lic["status"] == "active"
    assert lic["licenseKeyId"] == instance.key_id
    assert lic["organization"]["id"] == instance.org_id
    assert lic["organization"]["name"] == "Acme"
    assert lic["subscription"]["id"] == sub
    assert lic["subscription"]["status"] == "active"
    assert lic["subscription"]["plan"]["features"] == ["sso", "audit-log"]
    assert lic["subscription"]["plan"]["name"] == "Premium"
    issued = at(lic["issuedAt"])
    assert abs(issued - now()) < timedelta(minutes=1)
    assert at(lic["validUntil"]) - issued == GRACE


def test_tampered_answer_does_not_verify(
    server: Server, tenant: Tenant, instance: Instance
) -> None:
    plan = make_plan(server, tenant, "basic", ["core"])
    subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(hours=1))
    answer = instance.check_in().json()
    answer["license"]["subscription"]["plan"]["features"].append("everything")
    with pytest.raises(InvalidSignature):
        verify(tenant, answer)


def test_plan_change_shows_on_the_very_next_check_in(
    server: Server, tenant: Tenant, instance: Instance
) -> None:
    basic = make_plan(server, tenant, "basic", ["core"])
    pro = make_plan(server, tenant, "pro", ["core", "sso"])
    sub = subscribe(server, tenant, instance.org_id, basic, starts_at=now() - timedelta(days=3))
    assert instance.license()["subscription"]["plan"]["id"] == basic
    change_subscription(server, sub, plan_id=pro)
    changed = instance.license_soon(lambda lic: lic["subscription"]["plan"]["id"] == pro)
    assert changed["subscription"]["plan"]["id"] == pro
    newer = subscribe(server, tenant, instance.org_id, basic, starts_at=now() - timedelta(hours=1))
    lic = instance.license_soon(lambda lic: lic["subscription"]["id"] == newer)
    assert lic["subscription"]["id"] == newer
    assert lic["subscription"]["plan"]["features"] == ["core"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"cancelled_at": timedelta(minutes=-1)}, "cancelled"),
        ({"expires_at": timedelta(seconds=-1)}, "expired"),
        ({"expires_at": timedelta(seconds=-1), "cancelled_at": timedelta(days=-2)}, "cancelled"),
    ],
)
def test_cancelled_or_expired_subscription(
    server: Server, tenant: Tenant, instance: Instance, change: dict[str, timedelta], status: str
) -> None:
    plan = make_plan(server, tenant, "team", ["core"])
    sub = subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=30))
    assert instance.license()["active"] is True
    change_subscription(server, sub, **{k: now() + v for k, v in change.items()})
    lic = instance.license_soon(lambda lic: lic["active"] is False)
    assert lic["active"] is False
    assert lic["status"] == f"subscription_{status}"
    assert lic["subscription"]["status"] == status
    assert lic["subscription"]["plan"]["id"] == plan
    assert lic["validUntil"] == lic["issuedAt"]


def test_no_subscription_and_future_subscription(
    server: Server, tenant: Tenant, instance: Instance
) -> None:
    lic = instance.license()
    assert (lic["active"], lic["status"], lic["subscription"]) == (False, "no_subscription", None)
    plan = make_plan(server, tenant, "later", ["core"])
    subscribe(server, tenant, instance.org_id, plan, starts_at=now() + timedelta(days=1))
    assert instance.license()["status"] == "no_subscription"
    current = subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1))
    lic = instance.license_soon(lambda lic: lic["subscription"] is not None)
    assert lic["subscription"] is not None
    assert lic["subscription"]["id"] == current


def test_expiry_caps_the_offline_grace(server: Server, tenant: Tenant, instance: Instance) -> None:
    plan = make_plan(server, tenant, "short", ["core"])
    ends = now() + timedelta(days=1)
    subscribe(
        server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1), expires_at=ends
    )
    lic = instance.license()
    assert lic["active"] is True
    assert abs(at(lic["validUntil"]) - ends) < timedelta(seconds=1)


def test_revoked_key_stops_at_once(server: Server, tenant: Tenant, instance: Instance) -> None:
    plan = make_plan(server, tenant, "gold", ["core"])
    subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1))
    assert instance.license()["active"] is True
    r = net.delete(
        f"{tenant.base_url}/api/v1/licensing/keys/{instance.key_id}", headers=instance.owner
    )
    assert r.status_code == 200
    lic = instance.license()
    assert (lic["active"], lic["status"], lic["subscription"]) == (False, "key_revoked", None)
    assert lic["validUntil"] == lic["issuedAt"]


def test_check_in_is_recorded(instance: Instance) -> None:
    assert instance.listed()["lastSeenAt"] is None
    instance.license({"instanceId": "host-a", "version": "1.2.0"})
    seen = instance.listed()
    assert seen["lastInstanceId"] == "host-a"
    assert seen["lastVersion"] == "1.2.0"
    assert abs(at(seen["lastSeenAt"]) - now()) < timedelta(minutes=1)
    lic = instance.license({"instanceId": "host-a", "version": "1.3.0"})
    assert (lic["instanceId"], lic["version"]) == ("host-a", "1.3.0")
    assert instance.listed()["lastVersion"] == "1.3.0"
    instance.license()
    assert instance.listed()["lastVersion"] == "1.3.0"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic " + "a" * 64,
        "Bearer " + "a" * 63,
        "Bearer " + "g" * 64,
        "Bearer " + "a" * 65,
        pytest.param("Bearer " + secrets.token_hex(32), id="Bearer random-unknown-key"),
        "Bearer lkp_abc",
    ],
)
def test_bad_keys_are_401(tenant: Tenant, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    r = net.post(tenant.base_url + VALIDATE, headers=headers)
    assert r.status_code == 401, r.text
    assert set(r.json()) == {"code", "message"}
    assert r.json()["code"] in ("MISSING_LICENSE_KEY", "INVALID_LICENSE_KEY")


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"not json", 422),
        (b"[1]", 422),
        (b'{"instanceId": "a\\u0000"}', 422),
        (b'{"version": 3}', 422),
        (b'{"instanceId": "' + b"x" * 201 + b'"}', 422),
        (b'{"version": "\xff"}', 422),
        (b'{"pad": "' + b"x" * (1024 * 1024) + b'"}', 413),  # the edge's limit: 1 MiB
    ],
)
def test_bad_bodies(instance: Instance, content: bytes, status: int) -> None:
    r = net.post(
        instance.tenant.base_url + VALIDATE,
        content=content,
        headers={**bearer(instance.key), "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert set(r.json()) == {"code", "message"}


def test_key_is_case_insensitive_and_empty_body_is_fine(instance: Instance) -> None:
    r = net.post(
        instance.tenant.base_url + VALIDATE,
        content=b"",
        headers=bearer(instance.key.upper()),
    )
    assert r.status_code == 200, r.text
    assert r.json()["license"]["licenseKeyId"] == instance.key_id
