"""The desk's CLI against the same databases as the servers (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import cli_helpers
from tests.desk_helpers import EXPIRES, STARTS, customer, error, legacy_body, ok, setup
from tests.servers import Server, Tenant


def cli(server: Server, *args: str, fails: bool = False) -> cli_helpers.Done:
    done = cli_helpers.cli(server, *args)
    assert (done.returncode != 0) == fails, done.stderr + done.stdout
    return done


def cli_json(server: Server, *args: str) -> Any:
    return json.loads(cli(server, *args).stdout)


def test_desk_through_the_cli(server: Server, tenant: Tenant, tmp_path: Path) -> None:
    biz = ["--business-id", tenant.business_id]
    plan = cli_json(
        server,
        "plans",
        "create",
        "--code",
        "gold",
        "--name",
        "Gold",
        "--feature",
        "sso",
        "--feature",
        "geo",
        *biz,
    )
    assert plan["features"] == ["sso", "geo"]
    assert [p["code"] for p in cli_json(server, "plans", "list", *biz)] == ["gold"]
    c = customer(tenant.http())
    sub = cli_json(
        server,
        "subscriptions",
        "create",
        "--customer-id",
        c["customer_id"],
        "--plan-code",
        "gold",
        "--users-count",
        "7",
        "--starts-at",
        STARTS,
        "--expires-at",
        EXPIRES,
        "--external-id",
        "A-S00099",
        "--name",
        "A-S00099",
        "--cloud-licensing",
        "Offline",
        "--seat-reconciliation",
        *biz,
    )
    assert (sub["cloud_licensing"], sub["seat_reconciliation"]) == ("Offline", True)
    code = cli_json(server, "subscriptions", "activation-code", sub["id"], "--regenerate", *biz)
    assert len(code["activation_code"]) == 24
    shown = cli_json(server, "subscriptions", "activation-code", sub["id"], *biz)
    assert shown["activation_code"] == code["activation_code"]

    missing = cli(
        server,
        "licenses",
        "create",
        "--license-type",
        "offline_cloud",
        "--name",
        "Lee",
        *biz,
        fails=True,
    )
    assert "LICENSE_FIELDS_MISSING" in missing.stderr
    assert "customer_id" in missing.stderr
    assert "notes" in missing.stderr

    fields = [
        "--name",
        "Lee",
        "--company",
        "Acme",
        "--email",
        "lee@acme.test",
        "--users-count",
        "7",
        "--plan-code",
        "gold",
        "--starts-at",
        STARTS,
        "--expires-at",
        EXPIRES,
        "--customer-id",
        c["customer_id"],
        "--subscription-id",
        "A-S00099",
        "--notes",
        "Offline site, ticket #9",
    ]
    lic = cli_json(
        server,
        "licenses",
        "create",
        "--license-type",
        "offline_cloud",
        *fields,
        "--author",
        "sam@support.test",
        *biz,
    )
    assert lic["subscription_name"] == "A-S00099"
    assert lic["notes"][0]["author"] == "sam@support.test"
    legacy = cli_json(server, "licenses", "create", "--license-type", "legacy", *fields, *biz)
    assert legacy["notes"][0]["author"].startswith("cli:")
    dup = cli_json(
        server,
        "licenses",
        "duplicate",
        legacy["id"],
        "--users-count",
        "9",
        "--notes",
        "More seats, ticket #10",
        *biz,
    )
    assert (dup["users_count"], dup["name"]) == (9, "Lee")
    refused = cli(server, "licenses", "duplicate", lic["id"], "--notes", "x", *biz, fails=True)
    assert "LICENSE_NOT_DUPLICABLE" in refused.stderr

    target = tmp_path / "site.license"
    cli(server, "licenses", "file", lic["id"], "-o", str(target), *biz)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps(ok(tenant.http().get(f"/.well-known/jwks/{tenant.business_id}/test.json")))
    )
    verified = cli_json(server, "verify", str(target), "--public-key", str(jwks))
    assert verified["id"] == lic["id"]
    assert verified["licensee"]["company"] == "Acme"
    lines = target.read_text().split("\n")
    lines[1] = lines[1][:10] + ("B" if lines[1][10] != "B" else "C") + lines[1][11:]
    target.write_text("\n".join(lines))
    bad = cli(server, "verify", str(target), "--public-key", str(jwks), fails=True)
    assert bad.error()["code"] == "MALFORMED_FILE"

    noted = cli_json(server, "licenses", "note", lic["id"], "Sent again", *biz)
    assert [n["text"] for n in noted["notes"]][-1] == "Sent again"
    listed = cli_json(server, "licenses", "list", "--subscription-id", sub["id"], *biz)
    assert {x["id"] for x in listed} == {lic["id"], legacy["id"], dup["id"]}
    assert cli_json(server, "subscriptions", "get", "A-S00099", *biz)["id"] == sub["id"]
    usage = cli_json(server, "subscriptions", "usage", sub["id"], *biz)
    assert usage == []
    gone = cli(server, "licenses", "get", "dlc_missing", *biz, fails=True)
    assert "LICENSE_NOT_FOUND" in gone.stderr


def test_a_note_the_api_refuses_the_cli_refuses_with_the_same_code(
    server: Server, tenant: Tenant
) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    biz = ["--business-id", tenant.business_id]
    for text in ("n" * 20_000, "n" * 10_001, "   "):
        api = error(
            http.post(f"/licenses/{lic['id']}/notes", json={"text": text}), 422, "VALIDATION_ERROR"
        )
        refused = cli(server, "licenses", "note", lic["id"], text, *biz, fails=True)
        assert refused.returncode == 1
        assert refused.stdout == ""
        assert refused.error()["code"] == api["code"]
    assert ok(http.get(f"/licenses/{lic['id']}"))["notes"] == lic["notes"]  # nothing stored
    longest = cli_json(server, "licenses", "note", lic["id"], "n" * 10_000, *biz)
    assert [n["text"] for n in longest["notes"]][-1] == "n" * 10_000


def test_list_filters_the_api_refuses_the_cli_refuses(server: Server, tenant: Tenant) -> None:
    http = tenant.http()
    biz = ["--business-id", tenant.business_id]
    for flag, value in (("license_type", "bogus"), ("customer_id", "c" * 65)):
        api = error(http.get("/licenses", params={flag: value}), 422, "VALIDATION_ERROR")
        option = "--" + flag.replace("_", "-")
        refused = cli(server, "licenses", "list", option, value, *biz, fails=True)
        assert refused.returncode == 1
        assert refused.error()["code"] == api["code"]
        assert flag in refused.error()["message"]
    assert cli_json(server, "licenses", "list", "--license-type", "legacy", *biz) == []
