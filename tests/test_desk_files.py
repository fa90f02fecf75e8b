"""Signed license files from a real server, verified offline with the published keys,
before and after a signing-key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from licensor import verifier as v
from tests import cli_helpers
from tests.desk_helpers import error, legacy_body, offline_setup, ok, setup
from tests.servers import Server, Tenant


def jwks(tenant: Tenant) -> Any:
    return ok(tenant.http().get(f"/.well-known/jwks/{tenant.business_id}/test.json"))


def test_legacy_file_carries_the_license(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    response = http.get(f"/licenses/{lic['id']}/file")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-licensor-license")
    assert lic["id"] in response.headers["content-disposition"]
    got = v.verify_license_file(
        response.text, jwks(tenant), business_id=tenant.business_id, mode="test"
    )
    assert got.id == lic["id"]
    assert got.type == "legacy"
    assert got.business_id == tenant.business_id
    assert got.licensee == v.Licensee("Lee Licensee", "Acme Ltd", "lee@acme.test")
    assert got.plan == v.PlanInfo(p["code"], "Premium", ("sso", "audit"))
    assert got.users_count == 25
    assert got.subscription == v.SubscriptionRef(s["id"], s["external_id"], s["name"])
    assert got.issued_at.isoformat().startswith(lic["issued_at"][:19])


def test_offline_cloud_file_and_encryption(tenant: Tenant) -> None:
    http = tenant.http()
    p, c, s = offline_setup(http)
    body = {**legacy_body(p, c, s), "license_type": "offline_cloud"}
    lic = ok(http.post("/licenses", json=body), 201)
    sealed = http.get(f"/licenses/{lic['id']}/file", params={"encrypted": "true"}).text
    with pytest.raises(v.LicenseKeyRequired):
        v.verify_license_file(sealed, jwks(tenant), mode="test")
    got = v.verify_license_file(
        sealed,
        jwks(tenant),
        license_key=lic["license_key"],
        business_id=tenant.business_id,
        mode="test",
        license_types={"offline_cloud"},
    )
    assert got.type == "offline_cloud"
    error(
        http.get(f"/licenses/{lic['id']}/file", params={"encrypted": "maybe"}),
        422,
        "VALIDATION_ERROR",
    )


def _cli(server: Server, *args: str) -> str:
    done = cli_helpers.cli(server, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_files_signed_before_a_rotation_still_verify(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    http = tenant.http()
    p, c, s = setup(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    before = http.get(f"/licenses/{lic['id']}/file").text
    old_kid = v.parse_envelope(before)["kid"]
    _cli(server, "signing-keys", "rotate", "--business-id", tenant.business_id, "--mode", "test")
    after = http.get(f"/licenses/{lic['id']}/file").text
    new_kid = v.parse_envelope(after)["kid"]
    assert new_kid != old_kid
    keys = jwks(tenant)
    assert [k["kid"] for k in keys["keys"]] == [new_kid, old_kid]
    assert v.verify_license_file(before, keys, mode="test").kid == old_kid
    assert v.verify_license_file(after, keys, mode="test").kid == new_kid
    # the CLI verifier, with the PEM export and with the JWKS document
    pem = _cli(
        server,
        "signing-keys",
        "public",
        "--business-id",
        tenant.business_id,
        "--mode",
        "test",
        "--format",
        "pem",
    )
    (tmp_path / "keys.pem").write_text(pem)
    (tmp_path / "old.license").write_text(before)
    out = _cli(
        server, "verify", str(tmp_path / "old.license"), "--public-key", str(tmp_path / "keys.pem")
    )
    assert lic["id"] in out
    only_new = {"keys": [k for k in keys["keys"] if k["kid"] == new_kid]}
    with pytest.raises(v.UnknownKey):
        v.verify_license_file(before, only_new, mode="test")


def test_online_cloud_license_has_no_desk_file(tenant: Tenant) -> None:
    http = tenant.http()
    _, _, s = setup(http, cloud_licensing="Yes", seat_reconciliation=True)
    code = ok(http.get(f"/subscriptions/{s['id']}/activation_code"))["activation_code"]
    held = ok(http.post("/cloud/activate", json={"activation_code": code, "instance_id": "i-1"}))
    error(http.get(f"/licenses/{held['license_id']}/file"), 409, "LICENSE_FILE_NOT_AVAILABLE")
