"""The console's subscriptions, license keys and email queue pages in a real browser
(both backends, axe-checked): every change confirmed where it must be, made through the
same services as the API, and refused to read-only staff."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser import PASSWORD, Console, assert_accessible
from tests.desk_helpers import customer, ok, plan, subscription
from tests.mail import SmtpSink, issue_key, wait_for
from tests.servers import Server, Tenant


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def signed_in_client(server: Server, email: str) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=30)
    token = _csrf(client.get("/console/login").text)
    done = client.post(
        "/console/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert done.status_code == 303, done.text
    return client


def report(public: httpx.Client, code: str, billable: int, peak: int) -> None:
    body = {
        "activation_code": code,
        "instance_id": "gl-1",
        "timestamp": datetime.now(UTC).isoformat(),
        "billable_users_count": billable,
        "max_historical_users_count": peak,
    }
    ok(public.post("/cloud/seat_links", json=body))


def cloud_subscription(tenant: Tenant, tag: str) -> tuple[dict[str, Any], str]:
    """A cloud licensing Yes subscription with an activated instance and two usage
    reports, the second over the purchased seats."""
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
        subscription(http, c["customer_id"], p["code"])  # a legacy one of the same customer
    with httpx.Client(base_url=tenant.base_url, timeout=30) as public:
        ok(public.post("/cloud/activate", json={"activation_code": code, "instance_id": "gl-1"}))
        report(public, code, 8, 9)
        report(public, code, 12, 14)
    return s, code


def confirm(page: Page, button: str) -> None:
    """The confirmation step: a page of its own, nothing changed until its button."""
    expect(page.get_by_role("link", name="No, go back")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=button).click()


def test_subscriptions_search_page_code_and_seat_chart(server: Server, console: Console) -> None:
    tenant = server.tenant(mode="live")
    tag = uuid.uuid4().hex[:8]
    sub, code = cloud_subscription(tenant, tag)
    page = console.sign_in(console.staff("support", business_id=tenant.business_id))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Subscriptions").click()
    page.get_by_label("Search subscriptions").fill(f"globex-{tag}.test")
    page.get_by_role("button", name="Search subscriptions").click()
    rows = page.locator("table.subscriptions tbody tr")
    expect(rows).to_have_count(2)
    assert_accessible(page)
    page.get_by_role("link", name=f"GLX-{tag}").click()
    expect(page.get_by_role("heading", name=f"Subscription GLX-{tag}")).to_be_visible()
    expect(page.locator(".cloud-licensing")).to_have_text("Yes (online cloud)")
    expect(page.locator(".seat-reconciliation")).to_have_text("on")
    chart = page.get_by_role("img", name=f"Seat usage of GLX-{tag}")
    expect(chart).to_be_visible()
    expect(chart.locator("polygon[data-mark]")).to_have_count(1)  # one report over
    usage = page.get_by_role("table", name="Seat usage reports, oldest first")
    expect(usage.locator("tbody tr")).to_have_count(2)
    expect(usage.locator("tr.overage")).to_contain_text("4 over")
    expect(page.locator("figcaption")).to_contain_text("Overage in 1 reports")
    licenses = page.get_by_role("table", name="Licenses issued from this subscription, newest first")
    expect(licenses).to_contain_text("online cloud")
    assert_accessible(page)

    page.get_by_role("link", name="Show activation code").click()
    expect(page.locator(".activation-code")).to_have_text(code)
    page.get_by_role("button", name="Regenerate activation code").click()
    expect(page.get_by_role("heading", name=f"Regenerate the activation code of GLX-{tag}?"))
    with tenant.http() as http:  # asked, not done
        assert ok(http.get(f"/subscriptions/{sub['id']}/activation_code"))["activation_code"] == code
    confirm(page, "Yes, regenerate the activation code")
    expect(page.get_by_role("status")).to_have_text("A new activation code is issued.")
    new = page.locator(".activation-code").inner_text()
    assert new != code
    with tenant.http() as http:
        assert ok(http.get(f"/subscriptions/{sub['id']}/activation_code"))["activation_code"] == new

    page.get_by_label("Send to a different address").fill("admin@partner.test")
    page.get_by_role("button", name="Email activation code").click()
    expect(page.locator("#f-reason-error")).to_contain_text("needs a reason")
    assert_accessible(page)
    page.get_by_label("Reason").fill("Ticket 7: their admin installs it")
    page.get_by_role("button", name="Email activation code").click()
    expect(page.get_by_role("status")).to_have_text(
        "The activation code is queued to admin@partner.test."
    )
    emails = page.get_by_role("table", name="Activation code emails")
    expect(emails).to_contain_text("Ticket 7: their admin installs it")
    expect(emails.locator(".status")).to_have_text("queued")


def test_license_key_page_changes_each_confirmed(server: Server, console: Console) -> None:
    tenant = server.tenant(mode="live")
    email = f"buyer-{uuid.uuid4().hex[:8]}@customer.test"
    with tenant.http() as http:
        issued = issue_key(http, email)
        http.patch(f"/license_keys/{issued.key_id}", json={"activations_limit": 2})
    with httpx.Client(base_url=tenant.base_url, timeout=30) as public:
        for name in ("laptop", "desktop"):
            activated = public.post(
                "/licenses/activate", json={"license_key": issued.key, "name": name}
            )
            assert activated.status_code == 201, activated.text

    def key() -> dict[str, Any]:
        with tenant.http() as http:
            return ok(http.get(f"/license_keys/{issued.key_id}"))  # type: ignore[no-any-return]

    page = console.sign_in(console.staff("support", business_id=tenant.business_id))
    page.goto(f"/console/license-keys?email={email}")
    expect(page.locator("table.license-keys tbody tr")).to_have_count(1)
    assert_accessible(page)
    page.get_by_role("link", name=issued.key_id).click()
    expect(page.get_by_role("table", name="Activated instances of this key").locator("tbody tr")).to_have_count(2)
    assert_accessible(page)

    page.get_by_role("button", name="Disable license key").click()
    expect(page.get_by_role("heading", name=f"Disable license key {issued.key_id}?")).to_be_visible()
    assert key()["status"] == "active"  # nothing until confirmed
    confirm(page, "Yes, disable the license key")
    expect(page.get_by_role("status")).to_have_text(f"License key {issued.key_id} is disabled.")
    assert key()["status"] == "disabled"
    page.get_by_role("button", name="Enable license key").click()
    confirm(page, "Yes, enable the license key")
    assert key()["status"] == "active"

    page.get_by_label("Activations limit").fill("1")
    page.get_by_role("button", name="Change activations limit").click()
    confirm(page, "Yes, change the activations limit")
    expect(page.locator("#f-activations_limit-error")).to_contain_text("below the number")
    assert key()["activations_limit"] == 2
    assert_accessible(page)

    page.get_by_role("button", name="Deactivate instance laptop").click()
    page.get_by_role("link", name="No, go back").click()  # changed my mind: still there
    page.get_by_role("button", name="Deactivate instance laptop").click()
    confirm(page, "Yes, deactivate the instance")
    expect(page.get_by_role("status")).to_have_text("Instance 'laptop' is deactivated.")
    assert key()["instances_count"] == 1

    page.get_by_label("Activations limit").fill("1")
    page.get_by_role("button", name="Change activations limit").click()
    confirm(page, "Yes, change the activations limit")
    expect(page.get_by_role("status")).to_have_text(
        f"The activations limit of {issued.key_id} is now 1."
    )
    page.get_by_label("Expires at").fill("2031-05-06T07:08")
    page.get_by_role("button", name="Change expiry").click()
    confirm(page, "Yes, change the expiry")
    assert (key()["activations_limit"], key()["expires_at"]) == (1, "2031-05-06T07:08:00Z")


def test_email_queue_cancel_and_read_only(server: Server, console: Console) -> None:
    """No SMTP on this server: deliveries wait, so a cancel is certain to come first."""
    tenant = server.tenant(mode="live")
    keep, drop = (f"{w}-{uuid.uuid4().hex[:8]}@customer.test" for w in ("keep", "drop"))
    jobs = {}
    with tenant.http() as http:
        for address in (keep, drop):
            issued = issue_key(http, address)
            jobs[address] = ok(http.post(f"/license_keys/{issued.key_id}/deliveries"), 202)
    admin = console.staff("admin", business_id=tenant.business_id)
    reader = console.staff("read_only", business_id=tenant.business_id)

    page = console.sign_in(reader)
    page.goto("/console/email-queue")
    expect(page.locator("table.deliveries tbody tr")).to_have_count(2)
    expect(page.get_by_role("button", name=re.compile("^(Cancel|Retry) delivery"))).to_have_count(0)
    assert_accessible(page)
    page.goto(f"/console/license-keys/{jobs[keep]['license_id']}")
    expect(page.locator("main form")).to_have_count(0)  # nothing that changes anything
    with signed_in_client(server, reader.email) as client:
        token = _csrf(client.get("/console/email-queue").text)
        refused = client.post(
            f"/console/email-queue/{jobs[drop]['id']}/cancel", data={"csrf_token": token}
        )
        assert refused.status_code == 403
        assert 'data-code="ROLE_REQUIRED"' in refused.text

    page = console.sign_in(admin)
    page.goto("/console/email-queue")
    page.get_by_role("button", name=f"Cancel delivery {jobs[drop]['id']} to {drop}").click()
    expect(page.get_by_role("status")).to_contain_text("is cancelled: it will not be sent")
    page.get_by_role("navigation", name="Which deliveries").get_by_role("link", name="Queued").click()
    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(keep)
    assert_accessible(page)
    with tenant.http() as http:
        assert ok(http.get(f"/deliveries/{jobs[drop]['id']}"))["status"] == "cancelled"


def test_email_queue_retry_is_sent(mail_server: Server, sink: SmtpSink, console: Console) -> None:
    """A permanent failure (550), retried from the queue page: the worker sends it."""
    tenant = mail_server.tenant(mode="live")
    address = f"retry-{uuid.uuid4().hex[:8]}@customer.test"
    sink.handler.refusals[address] = ["550 5.1.1 no such user (yet)"]
    with tenant.http() as http:
        issued = issue_key(http, address)
        job = ok(http.post(f"/license_keys/{issued.key_id}/deliveries"), 202)

        def status() -> str:
            return str(ok(http.get(f"/deliveries/{job['id']}"))["status"])

        wait_for(lambda: status() == "failed", what="the permanent failure")
        on_mail = Console(mail_server, console.browser)
        try:
            page = on_mail.sign_in(on_mail.staff("support", business_id=tenant.business_id))
            page.goto("/console/email-queue?status=failed")
            row = page.locator(f"tr[data-delivery='{job['id']}']")
            expect(row).to_contain_text("550 5.1.1 no such user")
            assert_accessible(page)
            row.get_by_role("button", name=f"Retry delivery {job['id']} to {address}").click()
            expect(page.get_by_role("status")).to_contain_text("is queued again")
        finally:
            on_mail.close()
        got = wait_for(lambda: sink.handler.to(address), what="the retried email")
        assert [r.message_id for r in got] == [job["message_id"]]
        wait_for(lambda: status() == "sent", what="sent")
