"""The license form's required-field marks follow `License type` in the browser at once
(`static/desk.js` applying the form's `data-required`, from the desk's rules), on `Add new
License` and `Duplicate license`; without script, `Show required fields` asks the server.
Real browser, both backends."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, Request, expect

from tests.browser import Console, assert_accessible
from tests.desk_helpers import BASE_FIELDS, OFFLINE_FIELDS, legacy_body, ok, setup
from tests.servers import Server, Tenant

# The seed's lists: the fields each type needs, and "Required to be filled by Support".
OF_TYPE = {"legacy": BASE_FIELDS, "offline_cloud": OFFLINE_FIELDS}
OF_SUPPORT = {
    "legacy": ("customer_id", "subscription_id", "notes"),
    "offline_cloud": ("notes",),
}
CONTROLS = {
    "customer_id": "Customer",
    "name": "Name",
    "company": "Company",
    "email": "Email",
    "subscription_id": "Subscription ID",
    "users_count": "Users count",
    "plan_code": "Plan code",
    "starts_at": "Starts at",
    "expires_at": "Expires at",
    "notes": "Notes",
    "ticket_link": "Ticket link",
}


async def expect_marks(page: Page, license_type: str) -> None:
    """Every control's visible mark and `aria-required` as the seed lists them for the type."""
    for name, label in CONTROLS.items():
        control = page.get_by_label(label, exact=True)
        mark = page.locator(f'[data-mark-for="{name}"]')
        if name in OF_TYPE[license_type]:
            await expect(mark).to_have_text("(required)")
        elif name in OF_SUPPORT[license_type]:
            await expect(mark).to_have_text("(required of support)")
        else:
            await expect(mark).to_have_count(0)
            await expect(control).not_to_have_attribute("aria-required", "true")
            continue
        await expect(mark).to_be_visible()
        await expect(control).to_have_attribute("aria-required", "true")


async def signed_in(console: Console, tenant: Tenant, *, javascript: bool = True) -> Page:
    staff = await console.staff("support", business_id=tenant.business_id)
    return await console.sign_in(staff, javascript=javascript)


async def switch_in_place(page: Page) -> None:
    """Choose offline cloud then legacy again: the marks follow, with no request sent and
    no navigation (the URL and a marker set in the page's window stay)."""
    url = page.url
    sent: list[str] = []

    def record(request: Request) -> None:
        sent.append(request.url)

    await page.evaluate("window.marksProbe = 'unchanged'")
    page.on("request", record)
    await expect(page.get_by_role("button", name="Show required fields")).to_be_hidden()
    await expect_marks(page, "legacy")
    await page.get_by_label("License type").select_option("offline_cloud")
    await expect_marks(page, "offline_cloud")
    await assert_accessible(page)
    await page.get_by_label("License type").select_option("legacy")
    await expect_marks(page, "legacy")
    page.remove_listener("request", record)
    assert page.url == url
    assert await page.evaluate("window.marksProbe") == "unchanged"
    assert sent == []


async def test_marks_follow_the_type_without_a_round_trip(console: Console, server: Server) -> None:
    tenant = server.tenant(mode="live", name=f"Marks {uuid.uuid4().hex[:6]}")
    http = tenant.http()
    lic = ok(http.post("/licenses", json=legacy_body(*setup(http))), 201)
    page = await signed_in(console, tenant)

    await page.goto("/console/licenses")
    await page.get_by_role("button", name="Add new License").click()
    await expect(page.get_by_role("heading", name="Add new License")).to_be_visible()
    await assert_accessible(page)
    await switch_in_place(page)

    await page.goto(f"/console/licenses/{lic['id']}")
    await page.get_by_role("button", name="Duplicate license").click()
    await expect(page.get_by_role("heading", name="Duplicate license")).to_be_visible()
    await assert_accessible(page)
    await switch_in_place(page)


async def test_without_script_the_marks_come_from_the_server(
    console: Console, server: Server
) -> None:
    tenant = server.tenant(mode="live", name=f"NoJS {uuid.uuid4().hex[:6]}")
    http = tenant.http()
    lic = ok(http.post("/licenses", json=legacy_body(*setup(http))), 201)
    page = await signed_in(console, tenant, javascript=False)

    for start in ("/console/licenses/new", f"/console/licenses/{lic['id']}/duplicate"):
        await page.goto(start)
        await page.get_by_label("Name", exact=True).fill("Typed Name")
        await page.get_by_label("License type").select_option("offline_cloud")
        await expect_marks(page, "legacy")  # nothing runs in the page
        await page.get_by_role("button", name="Show required fields").click()
        await expect(page.get_by_label("License type")).to_have_value("offline_cloud")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("Typed Name")
        await expect(page.locator(".field-error")).to_have_count(0)
        await expect_marks(page, "offline_cloud")
    # asking for the marks wrote nothing
    assert [item["id"] for item in ok(http.get("/licenses"))["items"]] == [lic["id"]]
