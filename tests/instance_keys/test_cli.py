"""`licensor orgs …` against the same databases the servers use."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests import net
from tests.cli_helpers import invoke, server_env
from tests.instance_keys.helpers import PASSWORD, bearer, new_org
from tests.servers import Server

Cli = Callable[..., str]


@pytest.fixture
def cli(server: Server) -> Cli:
    def run(*args: str, ok: bool = True) -> str:
        flags = ["--data-dir", str(server.settings.data_dir)]
        flags += ["--database-url", server.settings.resolved_database_url]
        # the CLI writes its flags to the environment: the runner restores it afterwards
        done = invoke(server_env(server), "orgs", *args, *flags)
        assert (done.returncode == 0) is ok, done.stdout + done.stderr
        return done.stdout + done.stderr

    return run


def test_cli_manages_people_and_keys(server: Server, cli: Cli) -> None:
    tenant = server.tenant()
    org_id = new_org(tenant)
    biz = ["--business-id", tenant.business_id]
    owner = json.loads(cli("add-owner", org_id, *biz, "--email", "boss@example.test"))
    assert owner["role"] == "owner"
    assert "OWNER_EXISTS" in cli("add-owner", org_id, *biz, "--email", "x@example.test", ok=False)
    base = tenant.base_url + "/api/v1"
    accepted = net.post(
        base + "/auth/accept-invite",
        json={"inviteToken": owner["invite_token"], "password": PASSWORD},
    )
    assert accepted.status_code == 200
    helper = json.loads(cli("add-member", org_id, *biz, "--email", "h@example.test"))
    assert helper["role"] == "member"
    assert "h@example.test" in cli("members", org_id, *biz)
    cli("set-role", org_id, helper["id"], "admin", *biz)
    assert "VALIDATION_ERROR" in cli("set-role", org_id, helper["id"], "owner", *biz, ok=False)

    pat = json.loads(cli("token-create", org_id, owner["id"], *biz, "--name", "ops"))
    listed = net.get(base + "/organization/members", headers=bearer(pat["token"]))
    assert listed.status_code == 200
    roles = {m["email"]: m["role"] for m in listed.json()["items"]}
    assert roles == {"boss@example.test": "owner", "h@example.test": "admin"}
    cli("token-revoke", org_id, pat["id"], *biz)
    assert net.get(base + "/auth/tokens", headers=bearer(pat["token"])).status_code == 401

    made = json.loads(cli("key-create", org_id, *biz, "--instance-name", "Edge"))
    assert len(made["licenseKey"]) == 64
    table = cli("keys", org_id, *biz)
    assert made["id"] in table
    assert made["licenseKey"] not in table
    assert made["licenseKey"][:4] in table
    check = net.post(base + "/licensing/validate", headers=bearer(made["licenseKey"]))
    assert check.status_code == 200
    cli("key-revoke", org_id, made["id"], *biz)
    check = net.post(base + "/licensing/validate", headers=bearer(made["licenseKey"]))
    assert check.json()["license"]["status"] == "key_revoked"

    assert "MEMBER_INVITED" in cli("transfer", org_id, helper["id"], *biz, ok=False)
    assert "OWNER_BY_TRANSFER" in cli("remove-member", org_id, owner["id"], *biz, ok=False)
    cli("remove-member", org_id, helper["id"], *biz)
    assert "h@example.test" not in cli("members", org_id, *biz)
    assert "ORGANIZATION_NOT_FOUND" in cli("keys", "cus_nope", *biz, ok=False)
    other = server.tenant()
    wrong = ["--business-id", other.business_id]
    assert "ORGANIZATION_NOT_FOUND" in cli("members", org_id, *wrong, ok=False)
