"""The license key page's machines in a real browser (both backends, axe-checked): who
holds each seat (name, fingerprint, last heartbeat, silent floating seats marked), and
releasing one — confirmed, with a reason, CSRF-protected, refused to read-only staff.
`render` keeps sending heartbeats while the page is read."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests import net
from tests.browser import PASSWORD, Console, assert_accessible
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server
from tests.test_console_subs import _csrf, as_staff, get


@pytest.fixture(scope="module")
def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    """This module's own server (the `console` fixture's too), with no worker: a silent
    seat stays on the page until someone releases it (no sweep frees it meanwhile)."""
    data_dir: Path = tmp_path_factory.mktemp(f"console-machines-{backend}")
    env = {**RAISED_LIMITS, "LICENSOR_MAIL_WORKER": "false"}
    with own_server(backend, data_dir, _postgres_checked, env=env) as srv:
        yield srv


def without_csrf(server: Server, email: str, path: str) -> Any:
    """A POST to `path` by a signed-in staff member, without the form's CSRF token."""
    with net.client(base_url=server.base_url, timeout=30) as client:
        token = _csrf(client.get("/console/login").text)
        form = {"csrf_token": token, "email": email, "password": PASSWORD}
        assert client.post("/console/login", data=form).status_code == 303
        return client.post(path, data={"confirmed": "yes"})


@contextmanager
def heartbeats(tenant: Tenant, key: dict[str, Any], instance_id: str) -> Iterator[None]:
    """`instance_id`'s machine sends a heartbeat every 0.3 s until the block ends or its
    seat is gone (404)."""
    stop = threading.Event()
    body = {"license_key": key["key"], "license_key_instance_id": instance_id}

    def beat() -> None:
        with net.client(base_url=tenant.base_url, timeout=30) as public:
            while not stop.is_set():
                if public.post("/licenses/heartbeat", json=body).status_code != 200:
                    return
                stop.wait(0.3)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def floating_key(server: Server) -> tuple[Tenant, dict[str, Any]]:
    tenant = server.tenant(mode="live")
    policy = {"license_model": "floating", "heartbeat_interval_seconds": 3}
    product_id = make_product(tenant, license_policy={**policy, "heartbeat_grace_seconds": 0})
    key = make_key(tenant, make_customer(tenant), product_id, unique(), activations_limit=5)
    return tenant, key


def two_machines(tenant: Tenant, key: dict[str, Any]) -> dict[str, str]:
    """`quiet` goes silent (its seat is lost) while `render` keeps sending heartbeats."""
    ids: dict[str, str] = {}
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        for name in ("quiet", "render"):
            body = {"license_key": key["key"], "name": name, "fingerprint": f"{name}-fp"}
            made = public.post("/licenses/activate", json=body)
            assert made.status_code == 201, made.text
            ids[name] = made.json()["id"]
        quiet = {"license_key": key["key"], "license_key_instance_id": ids["quiet"]}
        beat = {"license_key": key["key"], "license_key_instance_id": ids["render"]}
        deadline = time.monotonic() + 30
        while public.post("/licenses/validate", json=quiet).json()["valid"]:
            assert public.post("/licenses/heartbeat", json=beat).status_code == 200
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert public.post("/licenses/heartbeat", json=beat).status_code == 200
    return ids


async def test_release_a_seat_showing_who_held_it(server: Server, console: Console) -> None:
    tenant, key = await asyncio.to_thread(floating_key, server)
    page = await console.sign_in(await console.staff("support", business_id=tenant.business_id))
    ids = await asyncio.to_thread(two_machines, tenant, key)
    with heartbeats(tenant, key, ids["render"]):
        await release_render(page, tenant, key, ids)
    await read_only_changes_nothing(console, server, tenant, key, ids)


async def release_render(
    page: Page, tenant: Tenant, key: dict[str, Any], ids: dict[str, str]
) -> None:
    await page.goto(f"/console/license-keys/{key['id']}")
    instances = page.get_by_role("table", name="Activated instances of this key")
    await expect(instances.locator("tbody tr")).to_have_count(2)
    quiet = instances.locator(f'tr[data-instance="{ids["quiet"]}"]')
    await expect(quiet).to_contain_text("quiet-fp")
    await expect(quiet).to_contain_text("silent: seat lost")
    render = instances.locator(f'tr[data-instance="{ids["render"]}"]')
    await expect(render).to_contain_text("render-fp")
    await expect(render).not_to_contain_text("silent")
    await expect(page.locator("main")).to_contain_text("Floating seats")
    await assert_accessible(page)

    await page.get_by_role("button", name="Release the seat of render").click()
    await expect(page.get_by_role("heading", name="Release the seat of render?")).to_be_visible()
    holder = page.locator("dl.fields")
    await expect(holder).to_contain_text("render-fp")
    await expect(holder).to_contain_text(ids["render"])
    await assert_accessible(page)
    assert (await asyncio.to_thread(get, tenant, f"/license_keys/{key['id']}"))[
        "instances_count"
    ] == 2  # asked, not done
    await page.get_by_label("Reason").fill("Ticket 42: the render node was rebuilt")
    await page.get_by_role("button", name="Yes, release the seat").click()
    await expect(page.get_by_role("status")).to_have_text("The seat of 'render' is released.")
    await expect(instances.locator("tbody tr")).to_have_count(1)
    events = await asyncio.to_thread(
        get, tenant, f"/audit_events?action=license_key_instance.released&target_id={ids['render']}"
    )
    [event] = events["items"]
    assert event["note"] == "Ticket 42: the render node was rebuilt"
    assert event["actor"].startswith("staff:")
    assert event["changes"]["fingerprint"]["old"] == "render-fp"


async def read_only_changes_nothing(
    console: Console, server: Server, tenant: Tenant, key: dict[str, Any], ids: dict[str, str]
) -> None:
    reader = await console.staff("read_only", business_id=tenant.business_id)
    path = f"/console/license-keys/{key['id']}"
    seen = await asyncio.to_thread(as_staff, server, reader.email, path)
    assert "quiet-fp" in seen.text  # sees who holds the seats
    assert "Release seat" not in seen.text  # changes nothing
    action = f"{path}/instances/{ids['quiet']}/release"
    refused = await asyncio.to_thread(as_staff, server, reader.email, action, True)
    assert refused.status_code == 403
    assert 'data-code="ROLE_REQUIRED"' in refused.text
    support = await console.staff("support", business_id=tenant.business_id)
    forged = await asyncio.to_thread(without_csrf, server, support.email, action)
    assert forged.status_code == 403  # a signed-in writer, but a form without its token
    assert 'data-code="CSRF_INVALID"' in forged.text
    assert (await asyncio.to_thread(get, tenant, f"/license_keys/{key['id']}"))[
        "instances_count"
    ] == 1
