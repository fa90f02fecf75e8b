"""Air-gapped activation in the console, in a real browser (both backends, axe-checked):
support pastes or uploads a machine's request and gets the license file bound to it; a
request is taken once; read-only staff see no form and are refused; CSRF-protected."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from licensor import verifier as v
from licensor.verifier.request import make_activation_request
from tests import net
from tests.browser import Console, assert_accessible
from tests.helpers import setup_key
from tests.servers import Server, Tenant
from tests.test_console_machines import without_csrf
from tests.test_console_subs import as_staff, get

PATH = "/console/offline-activation"


def live_key(server: Server) -> tuple[Tenant, str, dict[str, Any]]:
    tenant = server.tenant(mode="live")  # the console's root face is live
    product, _, key = setup_key(tenant, activations_limit=3)
    return tenant, product, key


def live_keys(tenant: Tenant) -> Any:
    url = f"{tenant.base_url}/.well-known/jwks/{tenant.business_id}/live.json"
    return net.get(url).json()


async def test_support_turns_a_request_into_a_bound_file(
    server: Server, console: Console, tmp_path: Path
) -> None:
    tenant, product, key = await asyncio.to_thread(live_key, server)
    text = make_activation_request(key["key"], product, fingerprint="kiosk-9", name="kiosk")
    page = await console.sign_in(await console.staff("support", business_id=tenant.business_id))
    await page.goto("/console/license-keys")
    await page.get_by_role("link", name="Activate an air-gapped machine").click()
    await expect(page.get_by_role("heading", name="Air-gapped activation")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Activation request").fill(text)
    await page.get_by_role("button", name="Activate and make the license file").click()
    await expect(
        page.get_by_role("heading", name="Activated: license file for kiosk-9")
    ).to_be_visible()
    await assert_accessible(page)
    license_file = await page.locator("textarea#license-file").input_value()
    keys = await asyncio.to_thread(live_keys, tenant)
    payload = v.verify_license_file(
        license_file, keys, business_id=tenant.business_id, fingerprint="kiosk-9"
    )
    assert (payload.type, payload.id) == ("machine", key["id"])
    try:
        v.verify_license_file(license_file, keys, fingerprint="kiosk-10")
    except v.WrongInstance:
        pass
    else:
        raise AssertionError("the file verified on another machine")
    seats = await asyncio.to_thread(
        get, tenant, f"/license_key_instances?license_key_id={key['id']}"
    )
    [seat] = seats["items"]
    assert (seat["name"], seat["fingerprint"]) == ("kiosk", "kiosk-9")
    events = await asyncio.to_thread(
        get, tenant, "/audit_events?action=activation_request.redeemed"
    )
    assert events["items"][0]["actor"].startswith("staff:")

    # the same request again, as a file this time: used
    request_file = tmp_path / "request.txt"
    request_file.write_text(text)
    await page.goto(PATH)
    await page.get_by_label("Request file").set_input_files(str(request_file))
    await page.get_by_role("button", name="Activate and make the license file").click()
    await expect(page.locator("#f-request_text-error")).to_contain_text("ACTIVATION_REQUEST_USED")
    await assert_accessible(page)
    assert (await asyncio.to_thread(get, tenant, f"/license_keys/{key['id']}"))[
        "instances_count"
    ] == 1


async def test_read_only_sees_no_form_and_is_refused(server: Server, console: Console) -> None:
    tenant, _, key = await asyncio.to_thread(live_key, server)
    reader = await console.staff("read_only", business_id=tenant.business_id)
    page = await console.sign_in(reader)
    await page.goto(PATH)
    await expect(page.locator("main")).to_contain_text("cannot activate machines")
    await expect(
        page.get_by_role("button", name="Activate and make the license file")
    ).to_have_count(0)
    await assert_accessible(page)
    listed = await asyncio.to_thread(as_staff, server, reader.email, "/console/license-keys")
    assert "Activate an air-gapped machine" not in listed.text
    refused = await asyncio.to_thread(as_staff, server, reader.email, PATH, True)
    assert refused.status_code == 403
    assert 'data-code="ROLE_REQUIRED"' in refused.text
    support = await console.staff("support", business_id=tenant.business_id)
    forged = await asyncio.to_thread(without_csrf, server, support.email, PATH)
    assert forged.status_code == 403
    assert 'data-code="CSRF_INVALID"' in forged.text
    assert (await asyncio.to_thread(get, tenant, f"/license_keys/{key['id']}"))[
        "instances_count"
    ] == 0
