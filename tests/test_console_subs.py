"""The console's subscriptions, license keys and email queue pages in a real browser
(both backends, axe-checked): every change confirmed where it must be, made through the
same services as the API, and refused to read-only staff.

Setup and API checks are plain (blocking) helpers run in a thread (`asyncio.to_thread`),
so the browser's event loop keeps running."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests import net
from tests.browser import PASSWORD, Console, assert_accessible
from tests.desk_helpers import customer, ok, plan, subscription
from tests.mail import SmtpSink, issue_key, wait_for
from tests.servers import Server, Tenant


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def get(tenant: Tenant, path: str) -> Any:
    with tenant.http() as http:
        return ok(http.get(path))


def report(public: httpx.Client, code: str, billable: int, peak: int) -> None:
    body = {
        "activation_code": code,
        "instance_id": "gl-1",
        "timestamp": datetime.now(UTC).isoformat(),
        "billable_users_count": billable,
        "max_historical_users_count": peak,
    }
    ok(public.post("/cloud/seat_links", json=body))


def cloud_subscription(server: Server, tag: str) -> tuple[Tenant, dict[str, Any], str]:
    """A live tenant with a cloud licensing Yes subscription, an activated instance and
    two usage reports (the second over the purchased seats), and a legacy subscription."""
    tenant = server.tenant(mode="live")
    with tenant.http() as http:
        p = plan(http)
        c = customer(http, email=f"ops@globex-{tag}.test", name=f"Globex {tag}")
        s = subscription(
            http,
            c["customer_id"],
            p["code"],
            name=f"GLX-{tag}",
            users_count=10,
            cloud_licensing="Yes",
            seat_reconciliation=True,
        )
        code = ok(http.get(f"/subscriptions/{s['id']}/activation_code"))["activation_code"]
        subscription(http, c["customer_id"], p["code"])
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "gl-1"}))
        report(public, code, 8, 9)
        report(public, code, 12, 14)
    return tenant, s, code


async def confirm(page: Page, button: str, *, check: bool = False) -> None:
    """The confirmation step: a page of its own; nothing changes until its button.
    `check`: run axe on it (once per test is enough: it is one template)."""
    await expect(page.get_by_role("link", name="No, go back")).to_be_visible()
    if check:
        await assert_accessible(page)
    await page.get_by_role("button", name=button).click()


async def test_subscriptions_search_page_code_and_seat_chart(
    server: Server, console: Console
) -> None:
    tag = uuid.uuid4().hex[:8]
    tenant, sub, code = await asyncio.to_thread(cloud_subscription, server, tag)
    code_path = f"/subscriptions/{sub['id']}/activation_code"
    page = await console.sign_in(await console.staff("support", business_id=tenant.business_id))
    main = page.get_by_role("navigation", name="Main")
    await main.get_by_role("link", name="Subscriptions").click()
    await page.get_by_label("Search subscriptions").fill(f"globex-{tag}.test")
    await page.get_by_role("button", name="Search subscriptions").click()
    await expect(page.locator("table.subscriptions tbody tr")).to_have_count(2)
    await assert_accessible(page)
    await page.get_by_role("link", name=f"GLX-{tag}").click()
    await expect(page.get_by_role("heading", name=f"Subscription GLX-{tag}")).to_be_visible()
    await expect(page.locator(".cloud-licensing")).to_have_text("Yes (online cloud)")
    await expect(page.locator(".seat-reconciliation")).to_have_text("on")
    chart = page.get_by_role("img", name=f"Seat usage of GLX-{tag}")
    await expect(chart).to_be_visible()
    await expect(chart.locator("polygon[data-mark]")).to_have_count(1)  # one report over
    usage = page.get_by_role("table", name="Seat usage reports, oldest first")
    await expect(usage.locator("tbody tr")).to_have_count(2)
    await expect(usage.locator("tr.overage")).to_contain_text("4 over")
    await expect(page.locator("figcaption")).to_contain_text("Overage in 1 reports")
    issued = page.get_by_role("table", name="Licenses issued from this subscription, newest first")
    await expect(issued).to_contain_text("online cloud")
    await assert_accessible(page)

    await page.get_by_role("link", name="Show activation code").click()
    await expect(page.locator(".activation-code")).to_have_text(code)
    await page.get_by_role("button", name="Regenerate activation code").click()
    question = f"Regenerate the activation code of GLX-{tag}?"
    await expect(page.get_by_role("heading", name=question)).to_be_visible()
    shown = await asyncio.to_thread(get, tenant, code_path)
    assert shown["activation_code"] == code  # asked, not done
    await confirm(page, "Yes, regenerate the activation code", check=True)
    await expect(page.get_by_role("status")).to_have_text("A new activation code is issued.")
    new = await page.locator(".activation-code").inner_text()
    assert new != code
    assert (await asyncio.to_thread(get, tenant, code_path))["activation_code"] == new

    await page.get_by_label("Send to a different address").fill("admin@partner.test")
    await page.get_by_role("button", name="Email activation code").click()
    await expect(page.locator("#f-reason-error")).to_contain_text("needs a reason")
    await assert_accessible(page)
    await page.get_by_label("Reason").fill("Ticket 7: their admin installs it")
    await page.get_by_role("button", name="Email activation code").click()
    await expect(page.get_by_role("status")).to_have_text(
        "The activation code is queued to admin@partner.test."
    )
    emails = page.get_by_role("table", name="Activation code emails")
    await expect(emails).to_contain_text("Ticket 7: their admin installs it")
    await expect(emails.locator(".status")).to_have_text("queued")

    reader = await console.staff("read_only", business_id=tenant.business_id)
    path = f"/console/subscriptions/{sub['id']}"
    seen = await asyncio.to_thread(as_staff, server, reader.email, path + "?show_code=true")
    assert new in seen.text  # sees
    assert "Regenerate activation code" not in seen.text  # changes nothing
    assert "Email activation code" not in seen.text
    for action in ("/activation-code", "/activation-code/email"):
        refused = await asyncio.to_thread(as_staff, server, reader.email, path + action, True)
        assert refused.status_code == 403, action
    assert (await asyncio.to_thread(get, tenant, code_path))["activation_code"] == new


async def test_subscription_page_revokes_a_cloud_instance(server: Server, console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    tenant, sub, code = await asyncio.to_thread(cloud_subscription, server, tag)
    listed = f"/subscriptions/{sub['id']}/cloud_instances"
    [row] = (await asyncio.to_thread(get, tenant, listed))["items"]
    reader = await console.staff("read_only", business_id=tenant.business_id)
    path = f"/console/subscriptions/{sub['id']}"
    seen = await asyncio.to_thread(as_staff, server, reader.email, path)
    assert row["id"] in seen.text  # sees the instances
    assert "Revoke cloud instance" not in seen.text  # changes nothing
    action = f"{path}/cloud-instances/{row['id']}/revoke"
    refused_page = await asyncio.to_thread(as_staff, server, reader.email, action, True)
    assert refused_page.status_code == 403

    page = await console.sign_in(await console.staff("support", business_id=tenant.business_id))
    await page.goto(f"/console/subscriptions/{sub['id']}")
    await expect(page.locator(".max-instances")).to_have_text("1 (the plan's)")
    table = page.get_by_role("table", name=re.compile("^Cloud instances, the last activated first"))
    await expect(table).to_contain_text("1 of 1 allowed active")
    await expect(table.locator(f"tr[data-instance='{row['id']}'] .status")).to_have_text("active")
    await assert_accessible(page)
    await page.get_by_role("button", name="Revoke cloud instance gl-1").click()
    question = f"Revoke cloud instance 'gl-1' of GLX-{tag}?"
    await expect(page.get_by_role("heading", name=question)).to_be_visible()
    assert (await asyncio.to_thread(get, tenant, listed))["items"][0]["status"] == "active"
    await confirm(page, "Yes, revoke the cloud instance", check=True)
    await expect(page.get_by_role("status")).to_have_text("Cloud instance 'gl-1' is revoked.")
    await expect(table.locator(".status")).to_contain_text("revoked")
    await expect(page.get_by_role("button", name="Revoke cloud instance gl-1")).to_have_count(0)
    await assert_accessible(page)
    assert (await asyncio.to_thread(get, tenant, listed))["items"][0]["status"] == "revoked"
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        refused = await asyncio.to_thread(
            public.post,
            "/cloud/activate",
            json={"activation_code": code, "instance_id": "gl-1"},
        )
    assert (refused.status_code, refused.json()["code"]) == (403, "CLOUD_INSTANCE_REVOKED")


def key_with_two_instances(server: Server) -> tuple[Tenant, str, str]:
    tenant = server.tenant(mode="live")
    email = f"buyer-{uuid.uuid4().hex[:8]}@customer.test"
    with tenant.http() as http:
        issued = issue_key(http, email)
        ok(http.patch(f"/license_keys/{issued.key_id}", json={"activations_limit": 2}))
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        for name in ("laptop", "desktop"):
            body = {"license_key": issued.key, "name": name}
            ok(public.post("/licenses/activate", json=body), 201)
    return tenant, issued.key_id, email


async def test_license_key_page_changes_each_confirmed(server: Server, console: Console) -> None:
    tenant, key_id, email = await asyncio.to_thread(key_with_two_instances, server)

    async def key() -> dict[str, Any]:
        found: dict[str, Any] = await asyncio.to_thread(get, tenant, f"/license_keys/{key_id}")
        return found

    page = await console.sign_in(await console.staff("support", business_id=tenant.business_id))
    await page.goto(f"/console/license-keys?email={email}")
    await expect(page.locator("table.license-keys tbody tr")).to_have_count(1)
    await assert_accessible(page)
    await page.get_by_role("link", name=key_id).click()
    instances = page.get_by_role("table", name="Activated instances of this key")
    await expect(instances.locator("tbody tr")).to_have_count(2)
    await assert_accessible(page)

    await page.get_by_role("button", name="Disable license key").click()
    heading = page.get_by_role("heading", name=f"Disable license key {key_id}?")
    await expect(heading).to_be_visible()
    assert (await key())["status"] == "active"  # nothing until confirmed
    await confirm(page, "Yes, disable the license key", check=True)
    await expect(page.get_by_role("status")).to_have_text(f"License key {key_id} is disabled.")
    assert (await key())["status"] == "disabled"
    await page.get_by_role("button", name="Enable license key").click()
    await confirm(page, "Yes, enable the license key")
    await expect(page.get_by_role("status")).to_have_text(f"License key {key_id} is enabled.")
    assert (await key())["status"] == "active"

    await page.get_by_label("Activations limit").fill("1")
    await page.get_by_role("button", name="Change activations limit").click()
    await confirm(page, "Yes, change the activations limit")
    await expect(page.locator("#f-activations_limit-error")).to_contain_text("below the number")
    assert (await key())["activations_limit"] == 2
    await assert_accessible(page)

    await page.get_by_role("button", name="Release the seat of laptop").click()
    await page.get_by_role("link", name="No, go back").click()  # changed my mind
    await expect(instances.locator("tbody tr")).to_have_count(2)
    await page.get_by_role("button", name="Release the seat of laptop").click()
    await confirm(page, "Yes, release the seat")
    await expect(page.get_by_role("status")).to_have_text("The seat of 'laptop' is released.")
    await expect(instances.locator("tbody tr")).to_have_count(1)
    assert (await key())["instances_count"] == 1

    await page.get_by_label("Activations limit").fill("1")
    await page.get_by_role("button", name="Change activations limit").click()
    await confirm(page, "Yes, change the activations limit")
    await expect(page.get_by_role("status")).to_have_text(
        f"The activations limit of {key_id} is now 1."
    )
    await page.get_by_label("Expires at").fill("2031-05-06T07:08")
    await page.get_by_role("button", name="Change expiry").click()
    await confirm(page, "Yes, change the expiry")
    await expect(page.get_by_role("status")).to_contain_text("now expires: 2031-05-06 07:08 UTC")
    changed = await key()
    assert changed["activations_limit"] == 1
    assert changed["expires_at"].startswith("2031-05-06T07:08:00")


def two_queued(server: Server) -> tuple[Tenant, dict[str, dict[str, Any]]]:
    """This server has no SMTP: deliveries wait, so a cancel is certain to come first."""
    tenant = server.tenant(mode="live")
    jobs = {}
    with tenant.http() as http:
        for what in ("keep", "drop"):
            issued = issue_key(http, f"{what}-{uuid.uuid4().hex[:8]}@customer.test")
            jobs[what] = ok(http.post(f"/license_keys/{issued.key_id}/deliveries"), 202)
    return tenant, jobs


def as_staff(server: Server, email: str, path: str, post: bool = False) -> httpx.Response:
    """A page of `path` for a staff member signed in by the real form (no browser), or with
    `post` a POST to it carrying a valid CSRF token and `confirmed=yes`."""
    with net.client(base_url=server.base_url, timeout=30) as client:
        token = _csrf(client.get("/console/login").text)
        form = {"csrf_token": token, "email": email, "password": PASSWORD}
        assert client.post("/console/login", data=form).status_code == 303
        if not post:
            return client.get(path)
        token = _csrf(client.get("/console/email-queue").text)
        return client.post(path, data={"csrf_token": token, "confirmed": "yes"})


async def test_email_queue_cancel_and_read_only(server: Server, console: Console) -> None:
    tenant, jobs = await asyncio.to_thread(two_queued, server)
    keep, drop = jobs["keep"], jobs["drop"]
    admin = await console.staff("admin", business_id=tenant.business_id)
    reader = await console.staff("read_only", business_id=tenant.business_id)

    page = await console.sign_in(reader)
    await page.goto("/console/email-queue")
    await expect(page.locator("table.deliveries tbody tr")).to_have_count(2)
    await expect(page.locator("main form")).to_have_count(0)  # no control that changes
    await assert_accessible(page)
    await page.goto(f"/console/license-keys/{keep['license_id']}")
    await expect(
        page.get_by_role("heading", name=f"License key {keep['license_id']}")
    ).to_be_visible()
    await expect(page.locator("main form")).to_have_count(0)
    for path in (
        f"/console/email-queue/{drop['id']}/cancel",
        f"/console/license-keys/{drop['license_id']}/disabled",
    ):
        refused = await asyncio.to_thread(as_staff, server, reader.email, path, True)
        assert refused.status_code == 403, path
        assert 'data-code="ROLE_REQUIRED"' in refused.text

    page = await console.sign_in(admin)
    await page.goto("/console/email-queue")
    name = f"Cancel delivery {drop['id']} to {drop['recipient']}"
    await page.get_by_role("button", name=name).click()
    await expect(page.get_by_role("status")).to_contain_text("is cancelled: it will not be sent")
    filters = page.get_by_role("navigation", name="Which deliveries")
    await filters.get_by_role("link", name="Queued", exact=True).click()
    rows = page.locator("table.deliveries tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(keep["recipient"])
    await assert_accessible(page)
    assert (await asyncio.to_thread(get, tenant, f"/deliveries/{drop['id']}"))[
        "status"
    ] == "cancelled"
    assert (await asyncio.to_thread(get, tenant, f"/license_keys/{drop['license_id']}"))[
        "status"
    ] == "active"


def failed_delivery(server: Server, sink: SmtpSink) -> tuple[Tenant, dict[str, Any]]:
    """A delivery the SMTP server refused for good (550)."""
    tenant = server.tenant(mode="live")
    address = f"retry-{uuid.uuid4().hex[:8]}@customer.test"
    sink.handler.refusals[address] = ["550 5.1.1 no such user (yet)"]
    with tenant.http() as http:
        job: dict[str, Any] = ok(
            http.post(f"/license_keys/{issue_key(http, address).key_id}/deliveries"), 202
        )
    path = f"/deliveries/{job['id']}"
    wait_for(lambda: get(tenant, path)["status"] == "failed", what="the permanent failure")
    return tenant, job


def sent_again(tenant: Tenant, sink: SmtpSink, job: dict[str, Any]) -> list[str]:
    got = wait_for(lambda: sink.handler.to(job["recipient"]), what="the retried email")
    path = f"/deliveries/{job['id']}"
    wait_for(lambda: get(tenant, path)["status"] == "sent", what="sent")
    return [r.message_id for r in got]


async def test_email_queue_retry_is_sent(
    mail_server: Server, sink: SmtpSink, console: Console
) -> None:
    """A failed delivery retried from the queue page: the worker sends the same message."""
    tenant, job = await asyncio.to_thread(failed_delivery, mail_server, sink)
    on_mail = Console(mail_server, console.browser)
    try:
        staff = await on_mail.staff("support", business_id=tenant.business_id)
        page = await on_mail.sign_in(staff)
        await page.goto("/console/email-queue?status=failed")
        row = page.locator(f"tr[data-delivery='{job['id']}']")
        await expect(row).to_contain_text("SMTP 550: 5.1.1 no such user")
        await assert_accessible(page)
        name = f"Retry delivery {job['id']} to {job['recipient']}"
        await row.get_by_role("button", name=name).click()
        await expect(page.get_by_role("status")).to_contain_text("is queued again")
    finally:
        await on_mail.close()
    assert await asyncio.to_thread(sent_again, tenant, sink, job) == [job["message_id"]]
