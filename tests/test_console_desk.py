"""The license desk in the console, in a real browser on both backends: search, the
license page, `Duplicate license`, `Add new License`, notes, the email sent on `Save`
(to an aiosmtpd sink), `Send to a different address`, and what read_only staff see."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser import Console, assert_accessible
from tests.desk_helpers import customer, legacy_body, ok, setup, subscription
from tests.mail import Received, SmtpSink
from tests.mail_fixtures import mail_server, sink
from tests.servers import Server, Tenant

__all__ = ["mail_server", "sink"]


@pytest.fixture(scope="module")
def server(mail_server: Server) -> Server:
    """The console under test delivers mail to the module's SMTP sink."""
    return mail_server


@pytest.fixture
def shop(mail_server: Server) -> Tenant:
    """A business with a live API key, for setting up data the pages then show."""
    return mail_server.tenant(mode="live", name=f"Shop {uuid.uuid4().hex[:6]}")


async def mail_to(sink: SmtpSink, address: str, count: int = 1) -> list[Received]:
    for _ in range(200):
        got = sink.handler.to(address)
        if len(got) >= count:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"no email to {address}")


def issued(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    p, c, s = setup(http)
    return ok(http.post("/licenses", json={**legacy_body(p, c, s), **fields}), 201)  # type: ignore[no-any-return]


async def signed_in(console: Console, shop: Tenant, role: str = "support") -> Page:
    staff = await console.staff(role, business_id=shop.business_id)  # type: ignore[arg-type]
    return await console.sign_in(staff)


async def test_search_and_the_license_page(console: Console, shop: Tenant) -> None:
    http = shop.http()
    domain = f"{uuid.uuid4().hex[:8]}.test"
    lic = issued(
        http,
        email=f"ann@{domain}",
        company="Searchable Ltd",
        ticket_link="https://support.example.test/tickets/42",
        label="Manually Generate Trial License",
    )
    dup = ok(http.post(f"/licenses/{lic['id']}/duplicate", json={"notes": "More seats"}), 201)
    page = await signed_in(console, shop)
    await page.get_by_role("searchbox", name="Search").fill(domain)
    await page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("table").first
    await expect(results.get_by_role("link", name=lic["id"])).to_be_visible()
    await expect(results.get_by_role("link", name=dup["id"])).to_be_visible()
    await expect(results).to_contain_text("Legacy License")
    await expect(results).to_contain_text("active")
    await expect(results).to_contain_text("Searchable Ltd")
    await expect(results.get_by_role("button", name="Duplicate license")).to_have_count(2)
    await assert_accessible(page)

    await results.get_by_role("link", name=lic["id"]).click()
    await expect(page.get_by_role("heading", name=f"License {lic['id']}")).to_be_visible()
    details = page.locator("dl.details")
    for text in ("Legacy License", "active", "Searchable Ltd", f"ann@{domain}", "25"):
        await expect(details).to_contain_text(text)
    await expect(details.get_by_role("link", name=dup["id"])).to_be_visible()  # duplicated to
    notes = page.get_by_role("region", name="Notes")
    await expect(notes).to_contain_text("Manually Generate Trial License")
    await expect(notes).to_contain_text("api_key:")  # the author
    link = notes.get_by_role("link", name="https://support.example.test/tickets/42")
    await expect(link).to_have_attribute("href", "https://support.example.test/tickets/42")
    history = page.get_by_role("region", name="History")  # from the audit log
    await expect(history).to_contain_text("desk_license.issued")
    await expect(history).to_contain_text("api_key:")  # issued through the API
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download license file").click()
    assert (await download.value).suggested_filename == f"{lic['id']}.license"
    await assert_accessible(page)

    await page.goto(f"/console/licenses/{dup['id']}")
    await expect(page.locator("dl.details").get_by_role("link", name=lic["id"])).to_be_visible()


async def test_duplicate_keeps_the_licensee_and_emails_on_save(
    console: Console, shop: Tenant, sink: SmtpSink
) -> None:
    http = shop.http()
    licensee = f"lee-{uuid.uuid4().hex[:6]}@acme.test"
    lic = issued(http, email=licensee)
    other = customer(http, name="Olga Other", metadata={"company": "Other GmbH"})
    sub = subscription(http, other["customer_id"], lic["plan_code"])
    page = await signed_in(console, shop)
    await page.goto(f"/console/licenses/{lic['id']}")
    await page.get_by_role("button", name="Duplicate license").click()
    await expect(page.get_by_role("heading", name="Duplicate license")).to_be_visible()
    await expect(page.get_by_label("License type")).to_have_value("legacy")
    await expect(page.get_by_label("Name")).to_have_value("Lee Licensee")
    await assert_accessible(page)

    # blank required fields and no note: every one named next to its field, nothing written
    await page.get_by_label("Users count").fill("")
    await page.get_by_label("Plan code").fill("")
    await page.get_by_role("button", name="Save").click()
    for label in ("Users count", "Plan code", "Notes"):
        field = page.get_by_label(label)
        await expect(field).to_have_attribute("aria-invalid", "true")
        described = await field.get_attribute("aria-describedby") or ""
        error = page.locator(f"#{described.split()[-1]}")
        await expect(error).to_contain_text("required")
    await assert_accessible(page)
    assert ok(http.get(f"/licenses/{lic['id']}"))["id"] == lic["id"]
    assert len(ok(http.get("/licenses", params={"email": licensee}))["items"]) == 1

    # a new customer keeps the typed licensee...
    await page.get_by_label("Users count").fill("30")
    await page.get_by_label("Plan code").fill(lic["plan_code"])
    await page.get_by_label("Customer").fill(other["customer_id"])
    await page.get_by_label("Subscription ID").fill(sub["external_id"])
    await page.get_by_label("Notes").fill("Moved to the new customer")
    await page.get_by_label("Ticket link").fill("https://support.example.test/tickets/7")
    await page.get_by_label("Label").select_option("Manually Generate License")
    # ... until "Use this customer's details" fills them, visibly, before Save
    await page.get_by_role("button", name="Use this customer's details").click()
    await expect(page.get_by_label("Name")).to_have_value("Olga Other")
    await expect(page.get_by_label("Company")).to_have_value("Other GmbH")
    await expect(page.get_by_label("Email")).to_have_value(other["email"])
    await expect(page.get_by_label("Notes")).to_have_value("Moved to the new customer")
    assert len(ok(http.get("/licenses", params={"email": other["email"]}))["items"]) == 0
    await page.get_by_label("Name").fill("Typed Name")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text(f"queued to {other['email']}")
    new = ok(http.get("/licenses", params={"email": other["email"]}))["items"][0]
    assert (new["name"], new["company"], new["users_count"]) == ("Typed Name", "Other GmbH", 30)
    assert new["duplicated_from_id"] == lic["id"]
    assert new["notes"][0]["author"].startswith("staff-")  # the signed-in staff member
    assert new["notes"][0]["label"] == "Manually Generate License"
    (mail,) = await mail_to(sink, other["email"])
    assert f"{new['id']}.license" in [part.get_filename() for part in mail.message.walk()]
    await page.reload()
    await expect(page.locator("#deliveries .delivery-status").first).to_have_text("sent")
    # the license's history: its issue by the signed-in staff member, from the audit log
    history = page.get_by_role("region", name="History")
    await expect(history).to_contain_text("desk_license.duplicated")
    await expect(history).to_contain_text("staff:stf_")
    await expect(history).to_contain_text("Moved to the new customer")
    await assert_accessible(page)


async def test_add_new_license_checks_and_online_cloud(console: Console, shop: Tenant) -> None:
    http = shop.http()
    p, c, _ = setup(http)
    online = subscription(
        http, c["customer_id"], p["code"], cloud_licensing="Yes", seat_reconciliation=True
    )
    page = await signed_in(console, shop)
    await page.goto("/console/licenses")
    await page.get_by_role("button", name="Add new License").click()
    await expect(page.get_by_role("heading", name="Add new License")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("License type").select_option("online_cloud")
    await page.get_by_label("Subscription ID").fill(online["external_id"])
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("License type")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("main")).to_contain_text("only send out an activation code")
    link = page.get_by_role("link", name="the subscription's page")
    await expect(link).to_have_attribute("href", f"/console/subscriptions/{online['id']}")

    await page.get_by_label("License type").select_option("offline_cloud")
    await page.get_by_label("Customer").fill(c["customer_id"])
    for label, value in (
        ("Name", "Nia New"),
        ("Company", "New Co"),
        ("Email", "nia@new.test"),
        ("Users count", "5"),
        ("Plan code", p["code"]),
        ("Starts at", "2026-01-01"),
        ("Expires at", "2027-01-01"),
        ("Notes", "New offline license"),
    ):
        await page.get_by_label(label).fill(value)
    await page.get_by_role("button", name="Save").click()
    sub_field = page.get_by_label("Subscription ID")
    await expect(sub_field).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".field-error").first).to_contain_text("needs Offline or No")

    legacy = subscription(http, c["customer_id"], p["code"])
    await page.get_by_label("License type").select_option("legacy")
    await page.get_by_label("Subscription ID").fill(legacy["external_id"])
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("queued to nia@new.test")
    await expect(page.locator("dl.details")).to_contain_text("New Co")
    await expect(page.get_by_role("region", name="Notes")).to_contain_text("New offline license")


async def test_send_elsewhere_refusals_and_read_only(
    console: Console, shop: Tenant, sink: SmtpSink
) -> None:
    http = shop.http()
    ok(http.put("/mail_settings", json={"staff_domains": ["staff.test"]}))
    lic = issued(http)
    page = await signed_in(console, shop)
    await page.goto(f"/console/licenses/{lic['id']}")
    send = page.get_by_role("region", name="Send to a different address")
    to = f"it-{uuid.uuid4().hex[:6]}@customer.test"
    await send.get_by_label("Address").fill(to)
    await send.get_by_role("button", name="Send to a different address").click()
    await expect(page.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Reason").fill("The licensee left; IT asked, ticket 9")
    await page.get_by_role("textbox", name="Address").fill("me@staff.test")
    await page.get_by_role("button", name="Send to a different address").click()
    await expect(page.get_by_role("textbox", name="Address")).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.locator("main")).to_contain_text("staff")
    await page.get_by_role("textbox", name="Address").fill(to)
    await page.get_by_role("button", name="Send to a different address").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Queued to {to}")
    await mail_to(sink, to)
    deliveries = page.get_by_role("region", name="Email deliveries")
    await expect(deliveries).to_contain_text("The licensee left; IT asked, ticket 9")
    await expect(deliveries.locator(".delivery-status").first).to_have_text("sent", timeout=15_000)
    await assert_accessible(page)

    reader = await signed_in(console, shop, "read_only")
    await reader.goto(f"/console/licenses/{lic['id']}")
    await expect(reader.get_by_role("link", name="Download license file")).to_be_visible()
    for name in ("Duplicate license", "Send to a different address", "Add note", "Save"):
        await expect(reader.get_by_role("button", name=name)).to_have_count(0)
    await reader.goto("/console/licenses")
    await expect(reader.get_by_role("button", name="Add new License")).to_have_count(0)
    await assert_accessible(reader)
    csrf = await reader.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = await reader.request.post(
        f"/console/licenses/{lic['id']}/notes", form={"csrf_token": csrf or "", "notes": "x"}
    )
    assert refused.status == 403
    assert len(ok(http.get(f"/licenses/{lic['id']}"))["notes"]) == 1
    assert re.search("ROLE_REQUIRED", await refused.text())
