"""The CLI against each backend's database: bootstrap (as a process), api-keys and
signing-keys (in process), and the conventions every command shares."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import typer
from sqlalchemy import func, select
from typer.core import TyperArgument, TyperOption

from licensor.cli.common import Mode
from licensor.cli.main import app
from licensor.kit.context import AppContext
from licensor.models import SigningKey
from tests import net
from tests.cli_helpers import cli as cli_in_process
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
    return net.get(url, headers={"Authorization": f"Bearer {api_key}"}).status_code


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

    # the first run is a real process (one line on a real stdout); the rest run in process
    again = cli_in_process(server, "bootstrap", "--business", name, "--email", email.upper())
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["business_id"] == out["business_id"]
    assert second["api_key"] != out["api_key"]

    live = cli_in_process(
        server, "bootstrap", "--business", name, "--email", email, "--mode", "live"
    )
    assert live.returncode == 0, live.stderr
    live_out = json.loads(live.stdout)
    assert live_out["business_id"] == out["business_id"]
    assert live_out["api_key"].startswith("lk_live_")

    for key in (out["api_key"], second["api_key"], live_out["api_key"]):
        assert status_with(server, key) == 200
    # test and live are separate worlds of one business
    test_http = {"Authorization": f"Bearer {out['api_key']}"}
    made = net.post(
        server.face("test") + "/customers",
        json={"email": "c@example.test", "name": "C"},
        headers=test_http,
    ).json()
    seen_live = net.get(
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
    assert bad_mode.returncode == 2  # a usage error
    assert bad_mode.stdout == ""
    assert "INVALID_MODE" in bad_mode.stderr


def test_api_keys_create_list_revoke(server: Server) -> None:
    cli = cli_in_process
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
    assert {k["id"] for k in json.loads(listed.stdout)} >= {issued["id"], live_key["id"]}
    assert issued["id"] in listed.stdout
    assert live_key["id"] in listed.stdout
    assert "ci" in listed.stdout
    for secret in (issued["api_key"], live_key["api_key"], tenant.api_key):
        assert secret not in listed.stdout  # only prefixes are shown
        assert secret[:12] in listed.stdout

    revoked = cli(server, "api-keys", "revoke", issued["id"], "--business-id", tenant.business_id)
    assert revoked.returncode == 0, revoked.stderr
    assert issued["id"] in revoked.stderr
    assert json.loads(revoked.stdout) == {"revoked": issued["id"]}
    assert status_with(server, issued["api_key"]) == 401
    body = net.get(
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
    assert unknown.error()["code"] == "NOT_FOUND"


def signing_key_modes(server: Server, business_id: str) -> dict[str, int]:
    """The business's signing keys per mode, read from the database itself."""

    async def count() -> dict[str, int]:
        ctx = AppContext.from_settings(server.settings)
        try:
            async with ctx.db.write_sessions() as session:
                stmt = (
                    select(SigningKey.mode, func.count())
                    .where(SigningKey.business_id == business_id)
                    .group_by(SigningKey.mode)
                )
                return {str(mode): int(n) for mode, n in (await session.execute(stmt)).all()}
        finally:
            await ctx.close()

    return asyncio.run(count())


def test_signing_keys_refuse_an_unknown_mode_and_store_nothing(server: Server) -> None:
    tenant = server.tenant()
    biz = ["--business-id", tenant.business_id]
    before = signing_key_modes(server, tenant.business_id)
    for command in ("rotate", "list", "public", "retire sig_x", "revoke sig_x"):
        args = [*command.split(), *biz, "--mode", "bogus"]
        bogus = cli_in_process(server, "signing-keys", *args)
        assert bogus.returncode == 2, bogus.stdout
        assert bogus.stdout == ""
        assert bogus.error()["code"] == "INVALID_MODE"
    assert signing_key_modes(server, tenant.business_id) == before

    rotated = cli_in_process(server, "signing-keys", "rotate", *biz)
    assert rotated.returncode == 0, rotated.stderr
    kid = json.loads(rotated.stdout)["kid"]
    assert signing_key_modes(server, tenant.business_id)["test"] >= 1  # the default mode
    listed = cli_in_process(server, "signing-keys", "list", *biz, "--mode", "test")
    keys = json.loads(listed.stdout)
    assert keys[0]["kid"] == kid
    assert keys[0]["state"] == "active"
    assert keys[1]["state"] == "retired"  # the key bootstrap made, retired by the rotation
    assert len(keys[0]["public_key"]) == 43  # base64url of 32 bytes, never cut
    assert set(keys[0]) == {
        "kid",
        "algorithm",
        "state",
        "created_at",
        "retired_at",
        "revoked_at",
        "public_key",
    }


def _commands(group: typer.Typer) -> list[tuple[str, object]]:
    """Every leaf command of the CLI with its path."""
    root = typer.main.get_command(group)
    found: list[tuple[str, object]] = []

    def walk(command: object, path: str) -> None:
        children = getattr(command, "commands", None)
        if children is None:
            found.append((path, command))
            return
        for name, child in children.items():
            walk(child, f"{path} {name}".strip())

    walk(root, "")
    return found


def test_every_mode_option_is_a_choice_with_the_one_default() -> None:
    with_mode = []
    for path, command in _commands(app):
        for param in getattr(command, "params", []):
            assert isinstance(param, TyperOption | TyperArgument), path
            if param.name != "mode":
                continue
            with_mode.append(path)
            assert param.default == "test", path
            assert param.type_descriptor.annotation is Mode, path  # the choice test|live
    assert [m.value for m in Mode] == ["test", "live"]
    assert "bootstrap" in with_mode
    assert "signing-keys rotate" in with_mode
    assert "mail-settings set" in with_mode
    assert "licenses issue-key" in with_mode
    assert len(with_mode) >= 30


def test_usage_errors_are_json_with_exit_code_2(server: Server) -> None:
    missing = cli_in_process(server, "api-keys", "create")
    assert missing.returncode == 2
    assert missing.error()["code"] == "USAGE_ERROR"
    assert "--business-id" in missing.error()["message"]
    unknown = cli_in_process(server, "no-such-command")
    assert unknown.returncode == 2
    assert unknown.error()["code"] == "USAGE_ERROR"


WEB_STACK = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "asyncpg", "aiosqlite", "httpx")


def test_help_imports_no_web_stack() -> None:
    probe = (
        "import sys\n"
        "from licensor.cli.main import app\n"
        "for args in (['--help'], ['licenses', 'note', '--help'], ['orgs', '--help'],\n"
        "             ['license-keys', 'import', '--help']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_STACK!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "self-hostable license-key server" in done.stdout  # the help was printed
    assert "Add a note to a license" in done.stdout
    assert "run it again to resume" in done.stdout  # license-keys import's help
    assert done.stdout.strip().splitlines()[-1] == "[]"
