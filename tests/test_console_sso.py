"""Single sign-on in a real browser against a real OpenID Connect provider process
(`oidc-provider-mock`, started here): sign-in, and the refusals (no staff account, an
unverified email, a forged state, a denied consent, several businesses to choose from)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser import Console, assert_accessible
from tests.servers import RAISED_LIMITS, Server, free_port, own_server

CLIENT_ID = "licensor-console"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """The provider: nonce required, any client id (registration is not what we test)."""
    port = free_port()
    cmd = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--require-nonce"], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the OIDC provider exited"
            assert time.monotonic() < deadline, "the OIDC provider did not start"
            try:
                if httpx.get(url + "/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(
    backend: str,
    issuer: str,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_checked: bool,
) -> Iterator[Server]:
    """This module's own server, configured for the provider."""
    data_dir: Path = tmp_path_factory.mktemp(f"sso-{backend}")
    env = {
        **RAISED_LIMITS,
        "LICENSOR_OIDC_ISSUER": issuer,
        "LICENSOR_OIDC_CLIENT_ID": CLIENT_ID,
        "LICENSOR_OIDC_CLIENT_SECRET": "client-secret",
    }
    with own_server(backend, data_dir, _postgres_checked, env=env) as srv:
        yield srv


def provider_user(issuer: str, email: str, *, verified: bool = True) -> str:
    """A user at the provider; its subject (typed into the provider's form)."""
    sub = f"user-{uuid.uuid4().hex[:10]}"
    claims = {"email": email, "email_verified": verified, "name": "Sam Support"}
    assert httpx.put(f"{issuer}/users/{sub}", json=claims).status_code == 204
    return sub


async def at_provider(page: Page, issuer: str, sub: str | None, face: str = "") -> None:
    """From the console's sign-in page to the provider and, as `sub`, back (None: deny)."""
    await page.goto(face + "/console/login")
    await page.get_by_role("link", name="Sign in with single sign-on").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(issuer) + "/oauth2/authorize"))
    url = page.url
    assert "code_challenge_method=S256" in url
    assert "nonce=" in url
    assert "state=" in url
    if sub is None:
        await page.get_by_role("button", name="Deny").click()
        return
    await page.get_by_placeholder("sub").fill(sub)
    await page.get_by_role("button", name="Authorize").click()


async def test_sso_signs_in_an_existing_staff_member(console: Console, issuer: str) -> None:
    staff = await console.staff("support", password=None)  # SSO only: no password
    page = await console.page()
    await at_provider(page, issuer, provider_user(issuer, staff.email.upper()))
    await expect(page).to_have_url(re.compile(r"/console/$"))
    await expect(page.locator("header .who")).to_contain_text(staff.email)
    await assert_accessible(page)
    # started on the test face, it comes back there (the callback is the live face's)
    other = await console.page()
    await at_provider(other, issuer, provider_user(issuer, staff.email), face="/test")
    await expect(other).to_have_url(re.compile(r"/test/console/$"))


async def test_sso_refuses_unknown_and_unverified(console: Console, issuer: str) -> None:
    page = await console.page()
    stranger = f"stranger-{uuid.uuid4().hex[:8]}@example.test"
    await at_provider(page, issuer, provider_user(issuer, stranger))
    await expect(page).to_have_url(re.compile(r"/console/sso/callback\?"))
    await expect(page.get_by_role("alert")).to_contain_text("has no staff account here")
    await assert_accessible(page)
    staff = await console.staff("admin")
    await at_provider(page, issuer, provider_user(issuer, staff.email, verified=False))
    await expect(page.get_by_role("alert")).to_contain_text("has not verified")
    await page.goto("/console/")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))  # not signed in


async def test_sso_refuses_a_forged_state_and_a_denial(console: Console, issuer: str) -> None:
    staff = await console.staff("admin", password=None)
    sub = provider_user(issuer, staff.email)
    page = await console.page()
    await page.goto("/console/login")
    await page.get_by_role("link", name="Sign in with single sign-on").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(issuer)))
    # the provider's answer with another state than the one this browser started with
    response = await page.goto("/console/sso/callback?state=forged&code=whatever")
    assert response is not None
    assert response.status == 400
    await expect(page.get_by_role("alert")).to_contain_text("does not match a sign-in started")
    # a callback without any sign-in started (the pending cookie is gone now)
    response = await page.goto("/console/sso/callback?state=x&code=y")
    assert response is not None
    assert response.status == 400
    await at_provider(page, issuer, None)  # denied: this provider answers without state
    await expect(page).to_have_url(re.compile(r"/console/sso/callback\?error=access_denied"))
    await expect(page.get_by_role("alert")).to_contain_text("does not match a sign-in started")
    await at_provider(page, issuer, sub)  # and the real thing still works
    await expect(page).to_have_url(re.compile(r"/console/$"))


async def test_sso_with_accounts_in_two_businesses_chooses_one(
    console: Console, issuer: str
) -> None:
    first = await console.staff("read_only", password=None)
    second = await console.staff("admin", email=first.email, password=None)
    page = await console.page()
    await at_provider(page, issuer, provider_user(issuer, first.email))
    await expect(page.get_by_role("heading", name="Choose a business")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Business").select_option(second.business_id)
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/console/$"))
    await expect(page.locator("header .who")).to_contain_text("(admin)")
