"""Helpers for the license desk tests: a plan, a customer and a subscription over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests import net
from tests.servers import Tenant

NOW = datetime.now(UTC).replace(microsecond=0)
STARTS = (NOW - timedelta(days=1)).isoformat()
EXPIRES = (NOW + timedelta(days=365)).isoformat()
# The seed's "Required fields" of each type, whoever issues it, in the order the 422 names them.
BASE_FIELDS = [
    "license_type",
    "name",
    "company",
    "email",
    "users_count",
    "plan_code",
    "starts_at",
    "expires_at",
]
OFFLINE_FIELDS = [
    "license_type",
    "customer_id",
    "name",
    "company",
    "email",
    "subscription_id",
    "users_count",
    "plan_code",
    "starts_at",
    "expires_at",
]
# What staff must give for either file type: the seed's required fields plus "required
# to be filled by Support" (customer, subscription id, notes), in the order the 422 names them.
STAFF_FIELDS = [
    "license_type",
    "customer_id",
    "name",
    "company",
    "email",
    "subscription_id",
    "users_count",
    "plan_code",
    "starts_at",
    "expires_at",
    "notes",
]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def plan(http: httpx.Client, code: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code or f"p-{uuid.uuid4().hex[:8]}", "name": "Premium"}
    body.setdefault("features", ["sso", "audit"])
    body.update(extra)
    return ok(http.post("/plans", json=body), 201)  # type: ignore[no-any-return]


def customer(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"email": f"c-{uuid.uuid4().hex[:8]}@example.test", "name": "Cora Customer"}
    body.update(extra)
    return ok(http.post("/customers", json=body))  # type: ignore[no-any-return]


def subscription(
    http: httpx.Client, customer_id: str, plan_code: str, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "plan_code": plan_code,
        "users_count": 10,
        "starts_at": STARTS,
        "expires_at": EXPIRES,
        "external_id": f"A-S{uuid.uuid4().hex[:10]}",
        "name": f"A-S{uuid.uuid4().hex[:6]}",
    }
    body.update(extra)
    return ok(http.post("/subscriptions", json=body), 201)  # type: ignore[no-any-return]


def setup(http: httpx.Client, **sub_extra: Any) -> tuple[dict[str, Any], ...]:
    """A plan, a customer and a subscription (legacy unless told otherwise)."""
    p = plan(http)
    c = customer(http)
    s = subscription(http, c["customer_id"], sub_extra.pop("plan_code", p["code"]), **sub_extra)
    return p, c, s


def legacy_body(p: dict[str, Any], c: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    return {
        "license_type": "legacy",
        "name": "Lee Licensee",
        "company": "Acme Ltd",
        "email": "lee@acme.test",
        "users_count": 25,
        "plan_code": p["code"],
        "starts_at": STARTS,
        "expires_at": EXPIRES,
        "customer_id": c["customer_id"],
        "subscription_id": s["external_id"],
        "notes": "Re-issue after a lost file, https://support.example.test/tickets/42",
    }


def offline_setup(http: httpx.Client) -> tuple[dict[str, Any], ...]:
    """A subscription an offline cloud license may be issued for (with an activation code)."""
    p, c, s = setup(http, cloud_licensing="Offline", seat_reconciliation=True)
    ok(http.post(f"/subscriptions/{s['id']}/activation_code"), 201)
    return p, c, s


def cloud(
    tenant: Tenant, users: int = 10, **sub_extra: Any
) -> tuple[httpx.Client, httpx.Client, dict[str, Any], str]:
    """A cloud licensing `Yes` subscription and its activation code: (API client, public
    client with no API key, the subscription, the code)."""
    http = tenant.http()
    _, _, s = setup(
        http, cloud_licensing="Yes", seat_reconciliation=True, users_count=users, **sub_extra
    )
    code = ok(http.get(f"/subscriptions/{s['id']}/activation_code"))["activation_code"]
    public = net.client(base_url=tenant.base_url, timeout=30)  # no API key
    return http, public, s, code


def report(
    public: httpx.Client,
    ref: dict[str, str],
    billable: int,
    peak: int,
    timestamp: datetime | None = None,
) -> httpx.Response:
    """A seat link of the instance `ref` names (`license_key` or `activation_code`, and
    `instance_id`), timed now unless told."""
    body = {
        **ref,
        "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
        "billable_users_count": billable,
        "max_historical_users_count": peak,
    }
    return public.post("/cloud/seat_links", json=body)
