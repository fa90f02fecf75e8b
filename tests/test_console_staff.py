"""Staff accounts: the admins' staff page in the browser, sessions that end on removal or
role change, and `licensor staff …` (both backends)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from playwright.async_api import expect
from sqlalchemy import update

from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.models import StaffSession
from tests.browser import PASSWORD, Console, assert_accessible, run_in_db
from tests.cli_helpers import invoke, server_env
from tests.servers import Server


async def test_admin_adds_changes_and_removes_staff(console: Console) -> None:
    admin = await console.staff("admin")
    page = await console.sign_in(admin)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    await expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    await assert_accessible(page)
    # a bad email is shown next to its field, nothing is written
    await page.get_by_label("Email", exact=True).fill("not-an-email")
    await page.get_by_role("button", name="Add staff member").click()
    await expect(page.locator("#f-email-error")).to_contain_text("not a valid email")
    await expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    await page.get_by_label("Email", exact=True).fill("Sam@Example.test")
    await page.get_by_label("Name", exact=True).fill("Sam")
    await page.get_by_label("Role", exact=True).select_option("support")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Add staff member").click()
    await expect(page.get_by_role("status")).to_have_text("Added sam@example.test (support).")
    row = page.locator("tr", has_text="sam@example.test")
    await expect(row.locator(".role")).to_have_text("support")
    # the same email again: refused next to the field
    await page.get_by_label("Email", exact=True).fill("sam@example.test")
    await page.get_by_label("Role", exact=True).select_option("admin")
    await page.get_by_role("button", name="Add staff member").click()
    await expect(page.locator("#f-email-error")).to_contain_text("already has a staff account")
    await row.get_by_label("Role of sam@example.test", exact=True).select_option("read_only")
    await row.get_by_role("button", name="Change role of sam@example.test").click()
    await expect(page.get_by_role("status")).to_have_text("sam@example.test is now read_only.")
    await expect(row.locator(".role")).to_have_text("read only")
    page.once("dialog", lambda dialog: dialog.accept())  # console.js asks first
    await row.get_by_role("button", name="Remove sam@example.test").click()
    await expect(page.get_by_role("status")).to_have_text("Removed sam@example.test.")
    await expect(page.locator("tr", has_text="sam@example.test")).to_have_count(0)
    # the last admin stays
    mine = page.locator("tr", has_text=admin.email)
    await mine.get_by_label(f"Role of {admin.email}", exact=True).select_option("support")
    await mine.get_by_role("button", name=f"Change role of {admin.email}").click()
    await expect(page.locator("[data-code]")).to_have_attribute("data-code", "LAST_ADMIN")


async def test_support_and_read_only_do_not_see_the_staff_page(console: Console) -> None:
    admin = await console.staff("admin")
    for role in ("support", "read_only"):
        member = await console.staff(role, business_id=admin.business_id)
        page = await console.sign_in(member)
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Staff")).to_have_count(0)
        response = await page.goto("/console/staff")
        assert response is not None
        assert response.status == 403


async def test_sessions_end_on_role_change_and_removal(console: Console) -> None:
    admin = await console.staff("admin")
    member = await console.staff("support", business_id=admin.business_id)
    other = await console.staff("support", business_id=admin.business_id)
    admin_page = await console.sign_in(admin)
    member_page = await console.sign_in(member)
    other_page = await console.sign_in(other)
    await admin_page.goto("/console/staff")
    row = admin_page.locator("tr", has_text=member.email)
    await row.get_by_label(f"Role of {member.email}", exact=True).select_option("read_only")
    await row.get_by_role("button", name=f"Change role of {member.email}").click()
    await expect(admin_page.get_by_role("status")).to_contain_text("is now read_only")
    await member_page.goto("/console/")
    await expect(member_page).to_have_url(re.compile(r"/console/login\?next="))
    admin_page.once("dialog", lambda dialog: dialog.accept())
    other_row = admin_page.locator("tr", has_text=other.email)
    await other_row.get_by_role("button", name=f"Remove {other.email}").click()
    await expect(admin_page.get_by_role("status")).to_contain_text("Removed")
    await other_page.goto("/console/")
    await expect(other_page).to_have_url(re.compile(r"/console/login\?next="))
    await admin_page.goto("/console/")  # the admin's own session is untouched
    await expect(admin_page.get_by_role("heading", level=1)).to_be_visible()
    await expect(admin_page).to_have_url(re.compile(r"/console/$"))


async def test_sessions_expire_at_their_end_and_when_idle(server: Server, console: Console) -> None:
    """A session ends at `expires_at` and after `console_idle_seconds` without a request:
    the next page sends the browser to sign in. The times are moved in the database (the
    limits are an hour and more), the check is the server's."""
    ended = await console.staff("support")
    idle = await console.staff("support", business_id=ended.business_id)
    fresh = await console.staff("support", business_id=ended.business_id)
    pages = {who.id: await console.sign_in(who) for who in (ended, idle, fresh)}
    past = utcnow() - timedelta(seconds=server.settings.console_idle_seconds + 60)

    async def age(ctx: AppContext, session: Any) -> None:
        await session.execute(
            update(StaffSession).where(StaffSession.staff_id == ended.id).values(expires_at=past)
        )
        await session.execute(
            update(StaffSession).where(StaffSession.staff_id == idle.id).values(last_seen_at=past)
        )

    await run_in_db(server, age)
    for who in (ended, idle):
        await pages[who.id].goto("/console/licenses")
        await expect(pages[who.id]).to_have_url(re.compile(r"/console/login\?next="))
    await pages[fresh.id].goto("/console/licenses")
    await expect(pages[fresh.id]).to_have_url(re.compile(r"/console/licenses$"))


def test_staff_cli(server: Server) -> None:
    env = server_env(server)
    boot = invoke(env, "bootstrap", "--business", "Cli Staff", "--email", "o@cli.test")
    business = json.loads(boot.stdout)["business_id"]
    added = invoke(
        env,
        "staff",
        "add",
        "--business-id",
        business,
        "--email",
        " Ann@Cli.Test ",
        "--role",
        "admin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    ann = json.loads(added.stdout)
    assert (ann["email"], ann["role"], ann["password"]) == ("ann@cli.test", "admin", True)
    no_password = invoke(
        env,
        "staff",
        "add",
        "--business-id",
        business,
        "--email",
        "bob@cli.test",
        "--role",
        "support",
        stdin="",
    )
    assert no_password.returncode == 1
    assert no_password.error()["code"] == "VALIDATION_ERROR"
    sso = invoke(
        env,
        "staff",
        "add",
        "--business-id",
        business,
        "--email",
        "bob@cli.test",
        "--role",
        "support",
        "--sso-only",
    )
    assert json.loads(sso.stdout)["password"] is False
    again = invoke(
        env,
        "staff",
        "add",
        "--business-id",
        business,
        "--email",
        "BOB@cli.test",
        "--role",
        "admin",
        "--sso-only",
    )
    assert again.error()["code"] == "STAFF_EXISTS"
    bad_role = invoke(
        env,
        "staff",
        "add",
        "--business-id",
        business,
        "--email",
        "c@cli.test",
        "--role",
        "owner",
        "--sso-only",
    )
    assert bad_role.error()["code"] == "VALIDATION_ERROR"
    listed = json.loads(invoke(env, "staff", "list", "--business-id", business).stdout)
    assert [m["email"] for m in listed] == ["ann@cli.test", "bob@cli.test"]
    bob = listed[1]["id"]
    changed = invoke(
        env, "staff", "set-role", bob, "--business-id", business, "--role", "read_only"
    )
    assert json.loads(changed.stdout)["role"] == "read_only"
    last = invoke(env, "staff", "remove", ann["id"], "--business-id", business)
    assert last.error()["code"] == "LAST_ADMIN"
    assert invoke(env, "staff", "remove", bob, "--business-id", business).returncode == 0
    gone = invoke(env, "staff", "remove", bob, "--business-id", business)
    assert gone.error()["code"] == "STAFF_NOT_FOUND"
    elsewhere = invoke(env, "staff", "list", "--business-id", "bus_nope")
    assert elsewhere.error()["code"] == "NOT_FOUND"
