"""Browser tests: Debian's Chromium driven by Playwright, staff accounts, an axe check.

Fixtures (registered in conftest through `pytest_plugins`):
- `browser`: one headless Chromium per worker (session scope), never downloaded: Debian's
  headless shell, `/usr/bin/chromium-headless-shell` (`make test` installs the package
  `chromium-headless-shell` when it is missing; the same engine as `/usr/bin/chromium`
  without the desktop browser around it, a quarter less CPU per test), else
  `/usr/bin/chromium`; `LICENSOR_TEST_CHROMIUM` names another executable.
- `console`: a `Console` for the `server` under test: `await console.staff(role)` makes
  a staff member in a fresh business (through the services), `await console.sign_in()`
  gives a `Page` signed in through the real sign-in form; contexts close after the test.
Browser tests are `async def` (Playwright's async API on the session's event loop).

`await assert_accessible(page)` runs axe-core (from the `axe-playwright-python` package) in the
page and fails on any serious or critical violation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from licensor.business import service as business_service
from licensor.kit.context import AppContext
from licensor.kit.passwords import Passwords
from licensor.staff import service as staff_service
from licensor.staff.schemas import Role, StaffCreate
from tests.servers import Server

SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = os.environ.get(
    "LICENSOR_TEST_CHROMIUM", SHELL if os.path.exists(SHELL) else "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
BLOCKING = frozenset({"serious", "critical"})
_axe = Axe()
T = TypeVar("T")


@dataclass(frozen=True)
class StaffAccount:
    id: str
    business_id: str
    email: str
    role: Role
    password: str | None


async def run_in_db(server: Server, work: Callable[[AppContext, Any], Awaitable[T]]) -> T:
    """`await work(ctx, session)` in one committed transaction on the server's database."""
    ctx = AppContext.from_settings(server.settings)
    try:
        async with ctx.db.write_sessions() as session, session.begin():
            return await work(ctx, session)
    finally:
        await ctx.close()


async def make_staff(
    server: Server,
    role: Role = "admin",
    *,
    business_id: str | None = None,
    email: str | None = None,
    password: str | None = PASSWORD,
) -> StaffAccount:
    """A staff member (in a new business unless `business_id`), made through the services."""
    email = email or f"staff-{uuid.uuid4().hex[:10]}@example.test"
    # at the cost the server checks it with (its settings: LICENSOR_PASSWORD_*)
    hashed = await Passwords.of(server.settings).hash(password) if password else None

    async def work(ctx: AppContext, session: Any) -> StaffAccount:
        bid = business_id
        if bid is None:
            done = await business_service.bootstrap(
                session,
                ctx.vault,
                business_name=f"Biz {uuid.uuid4().hex[:8]}",
                owner_email=f"owner-{uuid.uuid4().hex[:8]}@example.test",
                mode="test",
            )
            bid = done.business.id
        body = StaffCreate(email=email, role=role)
        row = await staff_service.add_staff(session, bid, body, hashed)
        return StaffAccount(row.id, bid, row.email, role, password)

    return await run_in_db(server, work)


async def sign_in_form(page: Page, base_url: str, email: str, password: str) -> None:
    """Fill and send the console's sign-in form."""
    await page.goto(base_url + "/console/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


@dataclass
class Console:
    server: Server
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)

    async def staff(self, role: Role = "admin", **kw: Any) -> StaffAccount:
        return await make_staff(self.server, role, **kw)

    async def page(self, *, javascript: bool = True) -> Page:
        """A fresh browser context (no cookies), with its one page; `javascript=False`
        for the pages as they work without script."""
        context = await self.browser.new_context(
            base_url=self.server.base_url, java_script_enabled=javascript
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return await context.new_page()

    async def sign_in(
        self, staff: StaffAccount | None = None, role: Role = "admin", *, javascript: bool = True
    ) -> Page:
        """A page signed in as `staff` (a new one of `role` when not given), on /console/."""
        staff = staff or await self.staff(role)
        assert staff.password is not None
        page = await self.page(javascript=javascript)
        await sign_in_form(page, self.server.base_url, staff.email, staff.password)
        await page.wait_for_url("**/console/")
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium per worker, on the session's event loop (the async API: the sync one
    would keep a loop marked running in the test thread, and `asyncio.run` would fail)."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def console(server: Server, browser: Browser) -> AsyncIterator[Console]:
    made = Console(server, browser)
    yield made
    await made.close()


async def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    results = await _axe.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in BLOCKING]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    ]
    assert not bad, f"{page.url}: " + "; ".join(summary)
