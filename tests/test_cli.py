"""The CLI against each backend's database: bootstrap, api-keys create/list/revoke."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx

from tests.servers import Server


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.env(), "COLUMNS": "250", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "licensor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def face_of(server: Server, api_key: str) -> str:
    return server.face("live" if api_key.startswith("lk_live_") else "test")


def status_with(server: Server, api_key: str) -> int:
    url = face_of(server, api_key) + "/customers"
    return httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}).status_code


def test_bootstrap_prints_one_json_line_and_is_idempotent(server: Server) -> None:
    name, email = f"Acme {uuid.uuid4().hex[:8]}", f"owner-{uuid.uuid4().hex[:8]}@example.test"
    first = cli(server, "bootstrap", "--business", name, "--email", email)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 1, first.stdout
    out = json.loads(lines[0])
    assert set(out) == {"business_id", "api_key"}
    assert out["business_id"].startswith("bus_")
    assert out["api_key"].startswith("lk_test_")
    assert len(out["api_key"]) >= 40

    again = cli(server, "bootstrap", "--business", name, "--email", email.upper())
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["business_id"] == out["business_id"]
    assert second["api_key"] != out["api_key"]

    live = cli(server, "bootstrap", "--business", name, "--email", email, "--mode", "live")
    assert live.returncode == 0, live.stderr
    live_out = json.loads(live.stdout)
    assert live_out["business_id"] == out["business_id"]
    assert live_out["api_key"].startswith("lk_live_")

    for key in (out["api_key"], second["api_key"], live_out["api_key"]):
        assert status_with(server, key) == 200
    # test and live are separate worlds of one business
    test_http = {"Authorization": f"Bearer {out['api_key']}"}
    made = httpx.post(
        server.face("test") + "/customers",
        json={"email": "c@example.test", "name": "C"},
        headers=test_http,
    ).json()
    seen_live = httpx.get(
        f"{server.face('live')}/customers/{made['customer_id']}",
        headers={"Authorization": f"Bearer {live_out['api_key']}"},
    )
    assert seen_live.status_code == 404


def test_bootstrap_refuses_bad_input(server: Server) -> None:
    bad_email = cli(server, "bootstrap", "--business", "X", "--email", "nobody")
    assert bad_email.returncode == 1
    assert bad_email.stdout == ""
    bad_mode = cli(
        server, "bootstrap", "--business", "X", "--email", "x@example.test", "--mode", "prod"
    )
    assert bad_mode.returncode == 1
    assert bad_mode.stdout == ""
    assert "INVALID_MODE" in bad_mode.stderr


def test_api_keys_create_list_revoke(server: Server) -> None:
    tenant = server.tenant()
    made = cli(server, "api-keys", "create", "--business-id", tenant.business_id, "--name", "ci")
    assert made.returncode == 0, made.stderr
    issued = json.loads(made.stdout)
    assert set(issued) == {"id", "api_key", "mode"}
    assert issued["mode"] == "test"
    assert issued["api_key"].startswith("lk_test_")
    live = cli(server, "api-keys", "create", "--business-id", tenant.business_id, "--mode", "live")
    live_key = json.loads(live.stdout)
    assert live_key["api_key"].startswith("lk_live_")
    assert status_with(server, issued["api_key"]) == 200
    assert status_with(server, live_key["api_key"]) == 200

    listed = cli(server, "api-keys", "list", "--business-id", tenant.business_id)
    assert listed.returncode == 0, listed.stderr
    assert issued["id"] in listed.stdout
    assert live_key["id"] in listed.stdout
    assert "ci" in listed.stdout
    for secret in (issued["api_key"], live_key["api_key"], tenant.api_key):
        assert secret not in listed.stdout  # only prefixes are shown
        assert secret[:12] in listed.stdout

    revoked = cli(server, "api-keys", "revoke", issued["id"], "--business-id", tenant.business_id)
    assert revoked.returncode == 0, revoked.stderr
    assert issued["id"] in revoked.stderr
    assert status_with(server, issued["api_key"]) == 401
    body = httpx.get(
        server.face("test") + "/license_keys",
        headers={"Authorization": f"Bearer {issued['api_key']}"},
    ).json()
    assert body["code"] == "UNAUTHORIZED"
    # the other keys are untouched
    assert status_with(server, tenant.api_key) == 200
    assert status_with(server, live_key["api_key"]) == 200
    # another business cannot revoke it, and unknown ids fail cleanly
    stranger = server.tenant()
    denied = cli(
        server, "api-keys", "revoke", live_key["id"], "--business-id", stranger.business_id
    )
    assert denied.returncode == 1
    assert status_with(server, live_key["api_key"]) == 200
    unknown = cli(server, "api-keys", "create", "--business-id", "bus_nope")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
