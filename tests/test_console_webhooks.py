"""The console's webhook deliveries page in a real browser (both backends, axe-checked):
a business's endpoints with their recent deliveries (status, attempts, last error, event
type) for every role, and "Resend" for support and admin through the delivery log's
resend service, refused to read-only staff.

The server runs no worker of its own: the test runs the delivery worker's passes
(tests/webhook_helpers.py) against a real receiver, so a delivery is sent or failed
when the page is looked at."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests import net
from tests.browser import PASSWORD, Console, assert_accessible
from tests.desk_helpers import ok
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server
from tests.webhook_helpers import Receiver, drain, receiver

SERVER_ENV = {
    **RAISED_LIMITS,
    "LICENSOR_MAIL_WORKER": "false",  # the test runs the worker's passes itself
    "LICENSOR_WEBHOOKS_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
    "LICENSOR_WEBHOOKS_MAX_ATTEMPTS": "1",  # one refused attempt fails a delivery
}


@pytest.fixture
def hooks(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Server]:
    with own_server(backend, tmp_path / "data", _postgres_checked, env=SERVER_ENV) as srv:
        yield srv


@pytest.fixture
def inbox() -> Iterator[Receiver]:
    with receiver() as rec:
        yield rec


def two_endpoints(server: Server, inbox: Receiver) -> tuple[Tenant, dict[str, str]]:
    """A live tenant with an endpoint that accepts (`/crm`) and one that refuses
    (`/billing`: 500, then 200), each with the delivery of one new license key."""
    tenant = server.tenant(mode="live")
    inbox.answers["/billing"] = [500, 200]
    ids = {}
    with tenant.http() as http:
        for path, description in (("/crm", "CRM sync"), ("/billing", "Billing")):
            body = {"url": inbox.url(path), "description": description}
            ids[path] = ok(http.post("/webhooks", json=body))["id"]
    make_key(tenant, make_customer(tenant), make_product(tenant), unique())
    drain(server, lambda: len(inbox.at("/crm")) == 1 == len(inbox.at("/billing")), "both")
    return tenant, ids


def deliveries(tenant: Tenant, webhook_id: str) -> list[dict[str, Any]]:
    with tenant.http() as http:
        found: list[dict[str, Any]] = ok(http.get(f"/webhooks/{webhook_id}/deliveries"))["data"]
    return found


def posted_as(server: Server, email: str, path: str) -> int:
    """The status of a POST to `path` by a staff member signed in through the real form,
    with a valid CSRF token."""
    with net.client(base_url=server.base_url, timeout=30) as client:
        form_page = client.get("/console/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form_page)
        assert token is not None
        login = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
        assert client.post("/console/login", data=login).status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/").text)
        assert token is not None
        return client.post(path, data={"csrf_token": token.group(1)}).status_code


async def open_webhooks(page: Page) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    await expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()


async def test_webhook_deliveries_page_and_resend(
    hooks: Server, inbox: Receiver, browser: Browser
) -> None:
    tenant, ids = await asyncio.to_thread(two_endpoints, hooks, inbox)
    [failed] = await asyncio.to_thread(deliveries, tenant, ids["/billing"])
    assert failed["status"] == "failed"
    console = Console(hooks, browser)
    try:
        reader = await console.staff("read_only", business_id=tenant.business_id)
        page = await console.sign_in(reader)
        await open_webhooks(page)
        crm = page.locator(f"table[data-endpoint='{ids['/crm']}']")
        billing = page.locator(f"table[data-endpoint='{ids['/billing']}']")
        await expect(crm.locator(".status")).to_have_text("sent")
        await expect(crm).to_contain_text("license_key.created")
        row = billing.locator(f"tr[data-delivery='{failed['id']}']")
        await expect(row.locator(".status")).to_have_text("failed")
        await expect(row).to_contain_text("1 of 1")
        await expect(row).to_contain_text("HTTP 500")
        await expect(page.locator("main form")).to_have_count(0)  # reads, changes nothing
        await assert_accessible(page)
        action = f"/console/webhooks/{ids['/billing']}/deliveries/{failed['id']}/resend"
        assert await asyncio.to_thread(posted_as, hooks, reader.email, action) == 403

        support = await console.staff("support", business_id=tenant.business_id)
        page = await console.sign_in(support)
        await open_webhooks(page)
        name = f"Resend delivery {failed['id']} (license_key.created)"
        await page.get_by_role("button", name=name).click()
        await expect(page.get_by_role("status")).to_contain_text(
            f"Delivery {failed['id']} (license_key.created) is queued again as whd_"
        )
        await expect(page.get_by_role("heading", name="Webhook Billing")).to_be_visible()
        log = page.get_by_role("table", name=f"Deliveries to {ids['/billing']}, newest first")
        await expect(log.locator("tbody tr")).to_have_count(2)
        await expect(log.locator("tbody tr").first).to_contain_text(f"resend of {failed['id']}")
        await expect(log.locator("tbody tr").first.locator(".status")).to_have_text("queued")
        await assert_accessible(page)
    finally:
        await console.close()
    await asyncio.to_thread(drain, hooks, lambda: len(inbox.at("/billing")) == 2, "the resend")
    first, again = inbox.at("/billing")
    assert first.headers["webhook-id"] == again.headers["webhook-id"]  # the same event
    with tenant.http() as http:
        query = {"action": "webhook_delivery.resent"}
        [audited] = ok(http.get("/audit_events", params=query))["items"]
    assert audited["actor"] == f"staff:{support.id}"
    assert audited["changes"]["resend_of"]["new"] == failed["id"]
    resent = await asyncio.to_thread(deliveries, tenant, ids["/billing"])
    assert sorted(d["status"] for d in resent) == ["failed", "sent"]
