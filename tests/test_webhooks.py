"""Webhooks against a real `licensor serve`: endpoints through Dodo's SDK (strict mode),
signed deliveries received on a real HTTP server and verified with the SDK's `unwrap` and
Standard Webhooks, the lifecycle events (the hot path's too, the desk's), rollback,
secret rotation, and what is stored encrypted. Retries, 410, the rate limit, SSRF and
expiry: tests/test_webhooks_delivery.py. The server runs no worker of its own: each test
runs the delivery worker's passes (tests/webhook_helpers.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from dodopayments import NotFoundError
from sqlalchemy import func, select, text
from standardwebhooks import Webhook

from licensor.auth.dependencies import Principal
from licensor.kit.context import AppContext
from licensor.license_key import service as license_key_service
from licensor.license_key.schemas import LicenseKeyCreate
from licensor.models import WebhookDelivery
from tests import net
from tests.cli_helpers import cli
from tests.desk_helpers import legacy_body, ok, setup
from tests.helpers import activate, in_db, make_customer, make_product
from tests.servers import Server
from tests.webhook_helpers import (
    Receiver,
    drain,
    endpoint,
    hooks,
    inbox,
    new_key,
    run_worker,
    types_at,
)

__all__ = ["hooks", "inbox"]
HOOKS_EXTRA_ENV = {"LICENSOR_WEBHOOKS_MAX_ATTEMPTS": "3"}


def test_sdk_manages_endpoints_in_strict_mode(hooks: Server, inbox: Receiver) -> None:
    sdk = hooks.tenant().sdk()
    made = sdk.webhooks.create(
        url=inbox.url("/sdk"),
        description="CRM sync",
        filter_types=["license_key.created"],
        headers={"X-Team": "crm", "Authorization": "Bearer s3cret"},
        metadata={"env": "staging"},
        rate_limit=5,
    )
    assert made.id.startswith("wh_")
    assert (made.url, made.description, made.disabled) == (inbox.url("/sdk"), "CRM sync", False)
    assert (made.filter_types, made.metadata, made.rate_limit) == (
        ["license_key.created"],
        {"env": "staging"},
        5,
    )
    assert sdk.webhooks.retrieve(made.id) == made

    changed = sdk.webhooks.update(made.id, description="CRM", disabled=True, rate_limit=10)
    assert (changed.description, changed.disabled, changed.rate_limit) == ("CRM", True, 10)
    second = sdk.webhooks.create(url=inbox.url("/sdk2"))
    assert second.filter_types == []  # every type
    listed = [w.id for w in sdk.webhooks.list(limit=1)]  # one per page: the iterator pages
    assert sorted(listed) == sorted([made.id, second.id])

    secret = sdk.webhooks.retrieve_secret(made.id).secret
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    shown = sdk.webhooks.headers.retrieve(made.id)
    assert (shown.headers, shown.sensitive) == ({"X-Team": "crm"}, ["Authorization"])
    sdk.webhooks.headers.update(made.id, headers={"X-Extra": "1", "X-Team": "billing"})
    shown = sdk.webhooks.headers.retrieve(made.id)
    assert shown.headers == {"X-Team": "billing", "X-Extra": "1"}

    sdk.webhooks.delete(made.id)
    with pytest.raises(NotFoundError):
        sdk.webhooks.retrieve(made.id)
    with hooks.tenant().http() as other:  # another business: unknown
        assert other.get(f"/webhooks/{second.id}").json()["code"] == "WEBHOOK_NOT_FOUND"
    with hooks.tenant().http() as http:
        bad = http.post("/webhooks", json={"url": "ftp://x.test/", "filter_types": ["nope"]})
        assert bad.status_code == 422
        reserved = http.post(
            "/webhooks", json={"url": inbox.url("/x"), "headers": {"webhook-id": "forged"}}
        )
        assert reserved.json()["code"] == "WEBHOOK_HEADER_RESERVED"


def test_license_key_created_is_signed_and_unwraps_with_the_sdk(
    hooks: Server, inbox: Receiver
) -> None:
    tenant = hooks.tenant()
    webhook_id, secret = endpoint(tenant, inbox.url("/created"))
    key = new_key(tenant)
    assert inbox.at("/created") == []  # queued, not sent, until the worker runs
    drain(hooks, lambda: len(inbox.at("/created")) >= 1, "license_key.created")
    [got] = inbox.at("/created")
    event = tenant.sdk().webhooks.unwrap(got.body, headers=got.headers, key=secret)
    assert event.type == "license_key.created"
    assert event.business_id == tenant.business_id
    assert got.json()["data"] == key  # the key as the API returned it
    assert got.headers["webhook-id"].startswith("msg_")

    with tenant.http() as http:
        log = http.get(f"/webhooks/{webhook_id}/deliveries").json()
        [delivery] = log["data"]
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
            "sent",
            1,
            200,
        )
        assert delivery["event_id"] == got.headers["webhook-id"]
        detail = http.get(f"/webhooks/{webhook_id}/deliveries/{delivery['id']}").json()
    assert detail["request"] == got.json()
    [attempt] = detail["attempt_log"]
    assert attempt["status_code"] == 200
    assert attempt["response_body"] == "ok"


def test_lifecycle_events_and_filter_types(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    instances = ["license_key_instance.activated", "license_key_instance.deactivated"]
    endpoint(tenant, inbox.url("/instances"), filter_types=instances)
    endpoint(tenant, inbox.url("/created-only"), filter_types=["license_key.created"])
    endpoint(tenant, inbox.url("/all"))
    key = new_key(tenant)
    done = activate(tenant.base_url, key["key"])  # the thin hot path's raw transaction
    assert done.status_code == 201, done.text
    instance = done.json()
    gone = tenant.http().post(
        "/licenses/deactivate",
        json={"license_key": key["key"], "license_key_instance_id": instance["id"]},
    )
    assert gone.status_code == 200, gone.text
    with tenant.http() as http:
        for change in ({"disabled": True}, {"disabled": False}, {"activations_limit": 9}):
            assert http.patch(f"/license_keys/{key['id']}", json=change).status_code == 200
    drain(hooks, lambda: len(inbox.at("/all")) >= 8, "every event")

    assert types_at(inbox, "/created-only") == ["license_key.created"]
    assert sorted(types_at(inbox, "/instances")) == instances
    assert sorted(types_at(inbox, "/all")) == sorted(
        [
            "license_key.created",
            *instances,
            "license_key.updated",
            "license_key.disabled",
            "license_key.updated",
            "license_key.enabled",
            "license_key.updated",
        ]
    )
    by_type = {r.json()["type"]: r.json() for r in inbox.at("/instances")}
    activated = by_type["license_key_instance.activated"]["data"]
    assert activated["id"] == instance["id"]
    assert activated["license_key_id"] == key["id"]
    assert by_type["license_key_instance.deactivated"]["data"]["name"] == "laptop"


def test_a_change_that_rolls_back_sends_nothing(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    endpoint(tenant, inbox.url("/rollback"))
    product_id, customer_id = make_product(tenant), make_customer(tenant)

    class Abort(Exception):
        pass

    async def create_then_fail(ctx: AppContext, session: Any) -> None:
        who = Principal(tenant.business_id, "test", "test")
        body = LicenseKeyCreate(customer_id=customer_id, product_id=product_id)
        await license_key_service.create(session, ctx.vault, who, body)
        queued = await session.scalar(
            select(func.count()).where(WebhookDelivery.business_id == tenant.business_id)
        )
        assert queued == 1  # queued in the change's transaction…
        raise Abort()

    with pytest.raises(Abort):
        in_db(hooks, create_then_fail)

    async def count(ctx: AppContext, session: Any) -> int:
        found = await session.scalar(
            select(func.count()).where(WebhookDelivery.business_id == tenant.business_id)
        )
        return int(found)

    assert in_db(hooks, count) == 0  # …and gone with it
    run_worker(hooks)
    assert inbox.at("/rollback") == []


def test_standard_webhooks_signature_format(hooks: Server, inbox: Receiver) -> None:
    """The signature is Standard Webhooks' (the package itself verifies it)."""
    tenant = hooks.tenant()
    _, secret = endpoint(tenant, inbox.url("/plain"))
    new_key(tenant)
    drain(hooks, lambda: len(inbox.at("/plain")) >= 1, "the delivery")
    [got] = inbox.at("/plain")
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "license_key.created"
    assert got.headers["webhook-signature"].startswith("v1,")


def test_rotation_signs_with_both_secrets(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    webhook_id, old = endpoint(tenant, inbox.url("/rotated"))
    with tenant.http() as http:
        fresh = http.post(f"/webhooks/{webhook_id}/secret/rotate").json()["secret"]
        assert http.get(f"/webhooks/{webhook_id}/secret").json()["secret"] == fresh
    assert fresh != old
    new_key(tenant)
    drain(hooks, lambda: len(inbox.at("/rotated")) >= 1, "the delivery")
    [got] = inbox.at("/rotated")
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, fresh):  # a receiver with either secret verifies it
        tenant.sdk().webhooks.unwrap(got.body, headers=got.headers, key=secret)
    other = cli(hooks, "webhooks", "rotate-secret", "--business-id", tenant.business_id, webhook_id)
    assert other.returncode == 0, other.stderr
    assert '"whsec_' in other.stdout


def test_desk_code_and_seat_events(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    endpoint(tenant, inbox.url("/desk"))
    with tenant.http() as http:
        p, c, s = setup(http)
        issued = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
        dup = ok(
            http.post(
                f"/licenses/{issued['id']}/duplicate",
                json={"users_count": 30, "notes": "five more seats"},
            ),
            201,
        )
        _, _, cloud = setup(http, cloud_licensing="Yes", seat_reconciliation=True, users_count=2)
        code = ok(http.get(f"/subscriptions/{cloud['id']}/activation_code"))["activation_code"]
        public = net.client(base_url=tenant.base_url, timeout=30)
        ref = {"activation_code": code, "instance_id": "gl-1"}
        held = ok(public.post("/cloud/activate", json=ref))
        usage = {"timestamp": datetime.now(UTC).isoformat(), "billable_users_count": 3}
        seat = ok(
            public.post("/cloud/seat_links", json={**ref, **usage, "max_historical_users_count": 5})
        )
        [ins] = ok(http.get(f"/subscriptions/{cloud['id']}/cloud_instances"))["items"]
        ok(http.post(f"/subscriptions/{cloud['id']}/cloud_instances/{ins['id']}/revoke"))
        assert http.delete(f"/subscriptions/{cloud['id']}/activation_code").status_code == 204
    drain(hooks, lambda: "activation_code.revoked" in types_at(inbox, "/desk"), "the revocation")
    events: dict[str, list[dict[str, Any]]] = {}
    for r in inbox.at("/desk"):
        events.setdefault(r.json()["type"], []).append(r.json()["data"])
    issued_ids = {d["id"] for d in events["desk_license.issued"]}
    assert {issued["id"], held["license_id"]} <= issued_ids  # by the desk, by cloud activation
    [duplicated] = events["desk_license.duplicated"]
    assert (duplicated["id"], duplicated["duplicated_from_id"]) == (dup["id"], issued["id"])
    [created] = events["activation_code.created"]
    assert (created["subscription_id"], created["code"]) == (cloud["id"], code)
    [revoked] = events["activation_code.revoked"]
    assert revoked["id"] == created["id"]
    assert "code" not in revoked
    [over] = events["seat_link.over_purchase"]
    assert (over["overage"], over["licensed_users_count"]) == (seat["overage"], 2)
    assert over["overage"] == 3
    assert over["id"].startswith("seat_")
    [gone] = events["cloud_instance.revoked"]
    assert (gone["id"], gone["instance_id"], gone["status"]) == (ins["id"], "gl-1", "revoked")


def test_secrets_and_payloads_are_not_stored_in_clear(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    webhook_id, secret = endpoint(tenant, inbox.url("/rest"), headers={"X-Token": "tok-s3cret"})
    key = new_key(tenant)

    async def raw(ctx: AppContext, session: Any) -> bytes:
        rows = await session.execute(
            text(
                "SELECT secret_encrypted, headers_encrypted FROM webhook_endpoints WHERE id = :id"
            ),
            {"id": webhook_id},
        )
        stored = b"".join(bytes(v) for row in rows for v in row if v is not None)
        rows = await session.execute(
            text("SELECT payload_encrypted FROM webhook_deliveries WHERE endpoint_id = :id"),
            {"id": webhook_id},
        )
        return stored + b"".join(bytes(row[0]) for row in rows)

    stored = in_db(hooks, raw)
    assert len(stored) > 100
    for clear in (secret, secret.removeprefix("whsec_"), "tok-s3cret", key["key"], key["id"]):
        assert clear.encode() not in stored
