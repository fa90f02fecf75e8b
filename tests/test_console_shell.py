"""The console's shell in a real browser: sign-in, the header, the mode switch, sign-out,
the security headers, CSRF and the role guard (both backends)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from playwright.async_api import expect

from tests import net
from tests.browser import PASSWORD, Console, assert_accessible, sign_in_form
from tests.servers import Server


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@contextmanager
def signed_in_client(
    server: Server, email: str, password: str = PASSWORD
) -> Iterator[httpx.Client]:
    """An HTTP client with a console session, signed in through the sign-in form."""
    with net.client(base_url=server.base_url, timeout=30) as client:
        token = _csrf(client.get("/console/login").text)
        done = client.post(
            "/console/login", data={"csrf_token": token, "email": email, "password": password}
        )
        assert done.status_code == 303, done.text
        yield client


async def test_sign_in_shell_mode_switch_and_sign_out(console: Console) -> None:
    staff = await console.staff("support")
    page = await console.page()
    await page.goto("/console/staff")  # not signed in: to the sign-in page, and back after it
    await expect(page).to_have_url(re.compile(r"/console/login\?next=/console/staff$"))
    await assert_accessible(page)
    await page.get_by_label("Email").fill(staff.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    # back to the page asked for: support may not see staff, so a 403 page
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    await page.goto("/console/")
    await expect(page.get_by_role("searchbox", name="Search")).to_be_visible()
    main = page.get_by_role("navigation", name="Main")
    for label in ("Licenses", "Subscriptions", "License keys", "Email queue", "Webhooks"):
        await expect(main.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(main.get_by_role("link", name="Staff")).to_have_count(0)  # admins only
    await expect(page.locator("header .who")).to_contain_text(staff.email)
    modes = page.get_by_role("navigation", name="Mode")
    await expect(modes.get_by_role("link", name="Live")).to_have_attribute("aria-current", "page")
    await assert_accessible(page)
    await page.get_by_role("searchbox", name="Search").fill("acme.test")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/console/search\?q=acme\.test$"))
    await modes.get_by_role("link", name="Test").click()
    await expect(page).to_have_url(re.compile(r"/test/console/search\?q=acme\.test$"))
    await expect(page.get_by_text("Test mode: you see and change test data only.")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    await expect(page.get_by_role("status")).to_have_text("You are signed out.")
    await page.goto("/console/")
    await expect(page).to_have_url(re.compile(r"/console/login\?next=/console/$"))


async def test_headers_cookies_and_csrf(server: Server, console: Console) -> None:
    staff = await console.staff("admin")
    with net.client(base_url=server.base_url, timeout=30) as anon:
        login = anon.get("/console/login")
        csp = login.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert login.headers["x-frame-options"] == "DENY"
        assert login.headers["referrer-policy"] == "no-referrer"
        # a sign-in without the form's token is refused before any password check
        refused = anon.post("/console/login", data={"email": staff.email, "password": PASSWORD})
        assert refused.status_code == 403
        assert 'data-code="CSRF_INVALID"' in refused.text
        assert "licensor_console=" not in refused.headers.get("set-cookie", "")
        # the API's errors stay JSON
        assert anon.get("/customers").json()["code"] == "UNAUTHORIZED"
    with signed_in_client(server, staff.email) as client:
        cookie = next(c for c in client.cookies.jar if c.name == "licensor_console")
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite", "").lower() == "lax"
        assert not cookie.secure  # plain HTTP here; Secure when served over HTTPS
        page = client.get("/console/staff")
        assert page.status_code == 200
        body = {"email": "new@example.test", "role": "support", "password": PASSWORD}
        with net.client(base_url=server.base_url, timeout=30) as other:
            anonymous = _csrf(other.get("/console/login").text)  # another browser's token
        for token in ("", "forged", anonymous):
            refused = client.post("/console/staff", data={**body, "csrf_token": token})
            assert refused.status_code == 403, token
        assert "new@example.test" not in client.get("/console/staff").text
        done = client.post("/console/staff", data={**body, "csrf_token": _csrf(page.text)})
        assert done.status_code == 303
        assert "new@example.test" in client.get("/console/staff").text


async def test_read_only_is_refused_on_post(server: Server, console: Console) -> None:
    admin = await console.staff("admin")
    reader = await console.staff("read_only", business_id=admin.business_id)
    with signed_in_client(server, reader.email) as client:
        home = client.get("/console/")
        assert home.status_code == 200
        token = _csrf(home.text)
        assert client.get("/console/staff").status_code == 403
        refused = client.post(
            f"/console/staff/{admin.id}/role", data={"csrf_token": token, "role": "read_only"}
        )
        assert refused.status_code == 403
        assert 'data-code="ROLE_REQUIRED"' in refused.text
        assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    page = await console.sign_in(admin)
    await page.goto("/console/staff")
    row = page.locator("tr", has_text=admin.email)
    await expect(row.locator(".role")).to_have_text("admin")  # unchanged


async def test_session_is_shared_by_both_faces_and_sign_in_form_helper(console: Console) -> None:
    staff = await console.staff("read_only")
    page = await console.page()
    await sign_in_form(page, console.server.base_url, staff.email, PASSWORD)
    await expect(page).to_have_url(re.compile(r"/console/$"))
    await page.goto("/test/console/")
    modes = page.get_by_role("navigation", name="Mode")
    await expect(modes.get_by_role("link", name="Test")).to_have_attribute("aria-current", "page")
