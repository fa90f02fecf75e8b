"""Screenshots of the console's main pages into docs/console/, from a real run.

Starts `licensor serve` on a fresh SQLite data folder, seeds a business, a customer, a
product and license keys through the API and staff through the CLI, signs in through the
real form in Debian's Chromium, and saves one PNG per entry of PAGES. To add a page, add a
line to PAGES (name, path below the server, who is signed in).

    .venv/bin/python scripts/console_screenshots.py [--out docs/console]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "screenshots are a real run"
# (file name, path, role signed in or None for no one)
PAGES: list[tuple[str, str, str | None]] = [
    ("login", "/console/login", None),
    ("home", "/console/", "admin"),
    ("home-test-mode", "/test/console/", "admin"),
    ("search", "/console/search?q=example.com", "admin"),
    ("staff", "/console/staff", "admin"),
    ("refused-read-only", "/console/staff", "read_only"),
    ("subscriptions", "/test/console/subscriptions?q=example.com", "support"),
    ("subscription", "/test/console/subscriptions/{subscription_id}?show_code=true", "support"),
    ("license-keys", "/test/console/license-keys", "support"),
    ("license-key", "/test/console/license-keys/{license_key_id}", "support"),
    ("email-queue", "/test/console/email-queue", "support"),
    ("licenses", "/test/console/licenses", "support"),
    ("license", "/test/console/licenses/{license_id}", "support"),
    ("license-new", "/test/console/licenses/new", "support"),
    ("license-duplicate", "/test/console/licenses/{license_id}/duplicate", "support"),
    ("webhooks", "/test/console/webhooks", "support"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def licensor(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "licensor", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, str] = json.loads(done.stdout)
    return result


def seed_subscription(http: httpx.Client, public: httpx.Client, customer_id: str) -> str:
    """A cloud licensing Yes subscription, activated, with a month of seat reports (the
    last ones over the purchased seats), for the subscription page and its chart."""
    http.post("/plans", json={"code": "premium", "name": "Premium"}).raise_for_status()
    sub = http.post(
        "/subscriptions",
        json={
            "customer_id": customer_id,
            "plan_code": "premium",
            "users_count": 20,
            "starts_at": "2026-11-01T00:00:00Z",
            "expires_at": "2027-11-01T00:00:00Z",
            "external_id": "A-S00012345",
            "name": "A-S00012345",
            "cloud_licensing": "Yes",
            "seat_reconciliation": True,
        },
    ).json()
    code = http.get(f"/subscriptions/{sub['id']}/activation_code").json()["activation_code"]
    body = {"activation_code": code, "instance_id": "gitlab.example.com"}
    public.post("/cloud/activate", json=body).raise_for_status()
    for day, (billable, peak) in enumerate([(12, 13), (15, 16), (18, 19), (21, 23), (22, 24)]):
        report = {
            **body,
            "timestamp": f"2026-11-{day * 6 + 2:02d}T09:00:00Z",
            "billable_users_count": billable,
            "max_historical_users_count": peak,
        }
        public.post("/cloud/seat_links", json=report).raise_for_status()
    return str(sub["id"])


def seed_license(http: httpx.Client, customer_id: str) -> str:
    """A legacy desk license on a subscription of its own (cloud licensing off), with its
    note, duplicated once."""
    sub = {
        "customer_id": customer_id,
        "plan_code": "premium",
        "users_count": 20,
        "starts_at": "2026-11-01T00:00:00Z",
        "expires_at": "2027-11-01T00:00:00Z",
        "external_id": "A-S00067890",
        "name": "A-S00067890",
        "cloud_licensing": "No",
    }
    http.post("/subscriptions", json=sub).raise_for_status()
    body = {
        "license_type": "legacy",
        "name": "Ann Example",
        "company": "Example Ltd",
        "email": "ann@example.com",
        "users_count": 20,
        "plan_code": "premium",
        "starts_at": "2026-11-01T00:00:00Z",
        "expires_at": "2027-11-01T00:00:00Z",
        "customer_id": customer_id,
        "subscription_id": "A-S00067890",
        "notes": "Re-issue after a lost file, https://support.example.test/tickets/42",
    }
    made = http.post("/licenses", json=body)
    if made.status_code != 201:
        raise SystemExit(f"POST /licenses: {made.text}")
    license_id = str(made.json()["id"])
    again = {"notes": "Five more seats, https://support.example.test/tickets/43"}
    http.post(
        f"/licenses/{license_id}/duplicate", json={**again, "users_count": 25}
    ).raise_for_status()
    return license_id


def seed(env: dict[str, str], url: str) -> tuple[dict[str, str], dict[str, str]]:
    boot = licensor(env, "bootstrap", "--business", "Acme Software", "--email", "owner@acme.test")
    http = httpx.Client(
        base_url=url + "/test", headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    customer = http.post("/customers", json={"email": "ann@example.com", "name": "Ann"}).json()
    product = http.post(
        "/products", json={"name": "Acme Editor", "license_key_activations_limit": 2}
    ).json()
    hook = {"url": "https://crm.example.com/hooks/licensor", "description": "CRM sync"}
    http.post("/webhooks", json=hook).raise_for_status()  # its deliveries wait: no worker
    keys = []
    for _ in range(3):
        made = http.post(
            "/license_keys",
            json={"customer_id": customer["customer_id"], "product_id": product["product_id"]},
        )
        made.raise_for_status()
        keys.append(made.json())
    public = httpx.Client(base_url=url + "/test")
    for name, fingerprint in (("ann-laptop", "7f3a9c21e04b"), ("ann-desktop", "c0ffee5d9a12")):
        body = {"license_key": keys[0]["key"], "name": name, "fingerprint": fingerprint}
        public.post("/licenses/activate", json=body).raise_for_status()
    for key in keys[:2]:  # no worker runs here: they wait in the email queue
        http.post(f"/license_keys/{key['id']}/deliveries").raise_for_status()
    ids = {
        "license_key_id": keys[0]["id"],
        "subscription_id": seed_subscription(http, public, customer["customer_id"]),
    }
    ids["license_id"] = seed_license(http, customer["customer_id"])
    emails = {}
    for role, name in (("admin", "Ada Admin"), ("support", "Sam Support"), ("read_only", "Rae")):
        email = f"{role.replace('_', '-')}@acme.test"
        licensor(
            env,
            "staff",
            "add",
            "--business-id",
            boot["business_id"],
            "--email",
            email,
            "--role",
            role,
            "--name",
            name,
            stdin=PASSWORD + "\n",
        )
        emails[role] = email
    return emails, ids


async def shoot(url: str, emails: dict[str, str], ids: dict[str, str], out: Path) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        contexts = {}
        for name, path, role in PAGES:
            key = role or ""
            if key not in contexts:
                context = await browser.new_context(
                    base_url=url, viewport={"width": 1200, "height": 800}
                )
                contexts[key] = context
                if role:
                    page = await context.new_page()
                    await page.goto("/console/login")
                    await page.get_by_label("Email", exact=True).fill(emails[role])
                    await page.get_by_label("Password", exact=True).fill(PASSWORD)
                    await page.get_by_role("button", name="Sign in", exact=True).click()
                    await page.wait_for_url("**/console/")
                    await page.close()
            page = await contexts[key].new_page()
            path = path.format(**ids)
            await page.goto(path)
            await page.screenshot(path=out / f"{name}.png", full_page=True)
            await page.close()
            print(f"{out / name}.png  {path}")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "LICENSOR_DATA_DIR": data, "LICENSOR_MAIL_WORKER": "false"}
        env.pop("LICENSOR_DATABASE_URL", None)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        subprocess.run(
            [sys.executable, "-m", "licensor", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "licensor", "serve", "--no-migrate", "--port", str(port)],
            env=env,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            emails, ids = seed(env, url)
            asyncio.run(shoot(url, emails, ids, out))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
