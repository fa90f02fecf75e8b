"""Signing keys you can retire and revoke (API and CLI, audited, 409 for a refused
transition), the JWKS that follows their states, and the signed revocation list."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from licensor import verifier as v
from tests import net
from tests.cli_helpers import cli, cli_json
from tests.desk_helpers import error, legacy_body, ok, setup
from tests.helpers import issue_api_key, setup_key
from tests.servers import Server, Tenant


def keys_of(http: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(http.get("/signing_keys"))["items"]
    return items


def jwks(tenant: Tenant) -> dict[str, Any]:
    got: dict[str, Any] = ok(
        net.get(f"{tenant.base_url}/.well-known/jwks/{tenant.business_id}/test.json")
    )
    return got


def revocations(base_url: str, business_id: str) -> httpx.Response:
    return net.get(f"{base_url}/.well-known/licensor/{business_id}/revocations.json")


def verify(
    tenant: Tenant, text: str, keys: Any, revocations: v.RevocationList | None = None
) -> v.LicensePayload:
    """As the tenant's own client: its business, test mode."""
    return v.verify_license_file(
        text, keys, business_id=tenant.business_id, mode="test", revocations=revocations
    )


def license_file(http: httpx.Client) -> tuple[str, str]:
    """(license id, its file text) of a new legacy license."""
    p, c, s = setup(http)
    lic = ok(http.post("/licenses", json=legacy_body(p, c, s)), 201)
    return lic["id"], http.get(f"/licenses/{lic['id']}/file").text


def test_rotation_retires_the_previous_key_which_still_verifies(tenant: Tenant) -> None:
    with tenant.http() as http:
        (first,) = keys_of(http)
        assert (first["state"], first["retired_at"], first["revoked_at"]) == ("active", None, None)
        lic, before = license_file(http)
        rotated = ok(http.post("/signing_keys/rotate"), 201)
        assert rotated["state"] == "active"
        listed = keys_of(http)
        assert [(k["kid"], k["state"]) for k in listed] == [
            (rotated["kid"], "active"),
            (first["kid"], "retired"),
        ]
        assert listed[1]["retired_at"] is not None
        after = http.get(f"/licenses/{lic}/file").text
    assert [k["kid"] for k in jwks(tenant)["keys"]] == [rotated["kid"], first["kid"]]
    assert verify(tenant, before, jwks(tenant)).kid == first["kid"]
    assert verify(tenant, after, jwks(tenant)).kid == rotated["kid"]


def test_retire_and_revoke_by_kid_with_their_refused_transitions(tenant: Tenant) -> None:
    with tenant.http() as http:
        (first,) = keys_of(http)
        # retiring the active key is a rotation that names it
        retired = ok(http.post(f"/signing_keys/{first['kid']}/retire"))
        assert retired["state"] == "retired"
        second = retired["replaced_by"]
        assert second is not None
        assert [(k["kid"], k["state"]) for k in keys_of(http)] == [
            (second, "active"),
            (first["kid"], "retired"),
        ]
        refused = error(
            http.post(f"/signing_keys/{first['kid']}/retire"), 409, "SIGNING_KEY_INVALID_TRANSITION"
        )
        assert "active" in refused["message"]
        # revoking a retired key: no replacement needed
        revoked = ok(http.post(f"/signing_keys/{first['kid']}/revoke"))
        assert (revoked["state"], revoked["replaced_by"]) == ("revoked", None)
        assert revoked["revoked_at"] is not None
        error(
            http.post(f"/signing_keys/{first['kid']}/revoke"), 409, "SIGNING_KEY_INVALID_TRANSITION"
        )
        error(
            http.post(f"/signing_keys/{first['kid']}/retire"), 409, "SIGNING_KEY_INVALID_TRANSITION"
        )
        # revoking the active key makes its replacement in the same transaction
        gone = ok(http.post(f"/signing_keys/{second}/revoke"))
        third = gone["replaced_by"]
        assert (gone["state"], third is not None) == ("revoked", True)
        states = {k["kid"]: k["state"] for k in keys_of(http)}
        assert states == {first["kid"]: "revoked", second: "revoked", third: "active"}
        for kid in ("sig_unknown", "x" * 64):
            error(http.post(f"/signing_keys/{kid}/revoke"), 404, "SIGNING_KEY_NOT_FOUND")
        error(http.post(f"/signing_keys/{'x' * 65}/revoke"), 422, "VALIDATION_ERROR")
        events = ok(
            http.get("/audit_events", params={"target_type": "signing_key", "page_size": 50})
        )
    actions = [(e["action"], e["target_id"]) for e in reversed(events["items"])]
    assert actions == [
        ("signing_key.created", first["kid"]),  # bootstrap
        ("signing_key.retired", first["kid"]),
        ("signing_key.created", second),
        ("signing_key.revoked", first["kid"]),
        ("signing_key.revoked", second),
        ("signing_key.created", third),
    ]
    revoked_active = events["items"][1]
    assert revoked_active["changes"] == {"state": {"old": "active", "new": "revoked"}}
    assert revoked_active["actor"].startswith("api_key:")
    # revoked keys leave the JWKS; the active one is first
    assert [k["kid"] for k in jwks(tenant)["keys"]] == [third]


def test_a_key_of_the_other_mode_is_unknown(server: Server, tenant: Tenant) -> None:
    live = issue_api_key(server, tenant.business_id, "live")
    with net.client(
        base_url=server.face("live"), headers={"Authorization": f"Bearer {live}"}
    ) as http:
        (live_key,) = keys_of(http)
    with tenant.http() as http:
        error(http.post(f"/signing_keys/{live_key['kid']}/revoke"), 404, "SIGNING_KEY_NOT_FOUND")
        assert live_key["kid"] not in {k["kid"] for k in keys_of(http)}


def test_a_file_of_a_revoked_key_is_refused_by_the_jwks_and_by_the_revocation_list(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    with tenant.http() as http:
        _, old_file = license_file(http)
        old_kid = v.parse_envelope(old_file)["kid"]
        published = jwks(tenant)  # what a client shipped before the revocation
        ok(http.post(f"/signing_keys/{old_kid}/revoke"))
        _, new_file = license_file(http)
    assert verify(tenant, old_file, published).kid == old_kid
    with pytest.raises(v.UnknownKey):
        verify(tenant, old_file, jwks(tenant))
    listed = revocations(tenant.base_url, tenant.business_id)
    assert listed.status_code == 200, listed.text
    with pytest.raises(v.UnknownKey):  # the replacement signed it: not a shipped key
        v.load_revocation_list(listed.text, published, business_id=tenant.business_id, mode="test")
    trusted = [published, jwks(tenant)]
    held = v.load_revocation_list(listed.text, trusted, business_id=tenant.business_id, mode="test")
    assert held.revoked_kids == {old_kid}
    with pytest.raises(v.Revoked, match=old_kid):
        verify(tenant, old_file, trusted, revocations=held)
    assert verify(tenant, new_file, jwks(tenant), held).kid != old_kid
    # the CLI verifier takes the same list and pins: the keys shipped before, plus the
    # JWKS fetched with the list (whose active key, the replacement, signed it)
    (tmp_path / "old.license").write_text(old_file)
    (tmp_path / "shipped.json").write_text(json.dumps(published))
    (tmp_path / "fetched.json").write_text(json.dumps(jwks(tenant)))
    (tmp_path / "revocations.json").write_text(listed.text)
    args = ["verify", str(tmp_path / "old.license"), "--public-key", str(tmp_path / "shipped.json")]
    args += ["--public-key", str(tmp_path / "fetched.json")]
    assert cli(server, *args, "--business-id", tenant.business_id).returncode == 0
    refusals = {
        "REVOKED": [
            "--business-id",
            tenant.business_id,
            "--revocations",
            str(tmp_path / "revocations.json"),
        ],
        "WRONG_MODE": ["--mode", "live"],
        "WRONG_BUSINESS": ["--business-id", "bus_other"],
        "WRONG_LICENSE_TYPE": ["--type", "offline_cloud"],
        "VALIDATION_ERROR": ["--revocations", str(tmp_path / "revocations.json")],
    }
    for code, extra in refusals.items():
        done = cli(server, *args, *extra)
        assert (done.returncode, done.error()["code"]) == (1, code), extra


def test_the_revocation_list_is_signed_dated_and_per_mode(server: Server, tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    with tenant.http() as http:
        ok(http.patch(f"/license_keys/{key['id']}", json={"disabled": True}))
    answer = revocations(tenant.base_url, tenant.business_id)
    doc = answer.json()
    assert set(doc) == {"revocations", "kid", "alg", "signature"}
    statement = doc["revocations"]
    assert statement["mode"] == "test"
    assert statement["business_id"] == tenant.business_id
    assert statement["revoked_license_ids"] == [key["id"]]
    assert doc["kid"] == jwks(tenant)["keys"][0]["kid"]  # signed by the active key
    held = v.load_revocation_list(doc, jwks(tenant), business_id=tenant.business_id, mode="test")
    assert held.next_update - held.issued_at == timedelta(days=1)
    assert held.revokes_license(key["id"])
    # the live face serves the live list, signed with the live key
    live = revocations(server.face("live"), tenant.business_id).json()
    assert live["revocations"]["mode"] == "live"
    assert live["revocations"]["revoked_license_ids"] == []
    live_keys = net.get(
        f"{server.face('live')}/.well-known/jwks/{tenant.business_id}/live.json"
    ).json()
    got = v.load_revocation_list(live, live_keys, business_id=tenant.business_id)
    assert got.mode == "live"
    with pytest.raises(v.UnknownKey):  # the test keys do not sign live lists
        v.load_revocation_list(live, jwks(tenant), business_id=tenant.business_id)
    missing = revocations(tenant.base_url, "bus_missing")
    assert (missing.status_code, missing.json()["code"]) == (404, "BUSINESS_NOT_FOUND")


def test_cli_retire_revoke_and_list(server: Server, tenant: Tenant) -> None:
    biz = ["--business-id", tenant.business_id, "--mode", "test"]
    (first,) = cli_json(server, "signing-keys", "list", *biz)
    retired = cli_json(server, "signing-keys", "retire", first["kid"], *biz)
    assert (retired["kid"], retired["state"]) == (first["kid"], "retired")
    again = cli(server, "signing-keys", "retire", first["kid"], *biz)
    assert again.returncode == 1
    assert again.error()["code"] == "SIGNING_KEY_INVALID_TRANSITION"
    revoked = cli_json(server, "signing-keys", "revoke", retired["replaced_by"], *biz)
    assert revoked["state"] == "revoked"
    listed = cli_json(server, "signing-keys", "list", *biz)
    assert [k["state"] for k in listed] == ["active", "revoked", "retired"]  # then newest first
    assert listed[0]["kid"] == revoked["replaced_by"]
    public = cli(server, "signing-keys", "public", *biz, "--format", "pem")
    assert public.returncode == 0
    assert revoked["kid"] not in public.stdout
    assert first["kid"] in public.stdout
    unknown = cli(server, "signing-keys", "revoke", "sig_nope", *biz)
    assert unknown.error()["code"] == "SIGNING_KEY_NOT_FOUND"


def test_concurrent_rotations_leave_one_active_key(tenant: Tenant) -> None:
    def rotate(_: int) -> int:
        with tenant.http() as http:
            return http.post("/signing_keys/rotate").status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(rotate, range(6)))
    assert statuses == [201] * 6
    with tenant.http() as http:
        states = [k["state"] for k in keys_of(http)]
    assert states == ["active"] + ["retired"] * 6
