"""Answers that cannot be replayed: `POST /licenses/validate` and the check-in, asked with
a client nonce, come signed by the business's active key, echo the nonce, the key, the
instance and the time, and the verifier checks them. Without a nonce nothing changes."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from licensor import verifier as v
from tests import net
from tests.edge_helpers import serve_with
from tests.helpers import activate, setup_key, unique
from tests.instance_keys.helpers import make_plan, now, subscribe
from tests.instance_keys.test_checkin import Instance
from tests.servers import Server, Tenant


def fresh_nonce() -> str:
    return secrets.token_urlsafe(24)


def jwks(tenant: Tenant) -> Any:
    return net.get(f"{tenant.base_url}/.well-known/jwks/{tenant.business_id}/test.json").json()


def validate(base_url: str, body: dict[str, Any]) -> Any:
    r = net.post(base_url + "/licenses/validate", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def check(tenant: Tenant, answer: Any, nonce: str, **pins: Any) -> v.SignedAnswer:
    return v.verify_signed_answer(
        answer, jwks(tenant), nonce=nonce, business_id=tenant.business_id, mode="test", **pins
    )


def test_validate_with_a_nonce_signs_what_it_answers(tenant: Tenant) -> None:
    product, _, key = setup_key(tenant)
    nonce = fresh_nonce()
    body = {"license_key": key["key"], "product_id": product, "nonce": nonce}
    answer = validate(tenant.base_url, body)
    assert answer["valid"] is True
    assert set(answer["signed"]) == {"answer", "kid", "alg", "signature"}
    assert key["key"] not in str(answer)  # the key itself never comes back
    got = check(tenant, answer, nonce, license_key=key["key"], license_key_id=key["id"])
    assert (got.kind, got.valid, got.state, got.license_key_id) == (
        "validate",
        True,
        "valid",
        key["id"],
    )
    assert got.statement["product_id"] == product
    assert got.kid == jwks(tenant)["keys"][0]["kid"]
    assert abs(got.issued_at - now()) < timedelta(minutes=1)
    # the same answer is not good for another request, nor for another key
    with pytest.raises(v.NonceMismatch):
        check(tenant, answer, fresh_nonce())
    with pytest.raises(v.WrongLicenseKey):
        check(tenant, answer, nonce, license_key=unique())
    with pytest.raises(v.WrongMode):  # a live client refuses a test answer
        v.verify_signed_answer(answer, jwks(tenant), nonce=nonce)


def test_refusals_are_signed_with_their_reason(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    nonce = fresh_nonce()
    lost = validate(
        tenant.base_url,
        {"license_key": key["key"], "license_key_instance_id": "lki_nope", "nonce": nonce},
    )
    # the key is valid, the instance holds no seat of it: not valid (docs/machines.md)
    assert (lost["valid"], check(tenant, lost, nonce).state) == (False, "valid")
    seat = activate(tenant.base_url, key["key"]).json()["id"]
    body = {"license_key": key["key"], "license_key_instance_id": seat, "nonce": nonce}
    assert check(tenant, validate(tenant.base_url, body), nonce, instance_id=seat).valid
    with tenant.http() as http:
        assert http.patch(f"/license_keys/{key['id']}", json={"disabled": True}).status_code == 200
    refused = validate(tenant.base_url, {"license_key": key["key"], "nonce": nonce})
    got = check(tenant, refused, nonce)
    assert (refused["valid"], got.valid, got.state) == (False, False, "disabled")
    # a key unknown to the face has no business to sign for
    assert validate(tenant.base_url, {"license_key": unique(), "nonce": nonce}) == {"valid": False}


def test_the_answer_echoes_the_fingerprint_so_the_client_pins_its_machine(
    tenant: Tenant,
) -> None:
    """Two machines hold seats of one key: an answer about the other machine, relayed to
    this one, verifies only until the client pins its own fingerprint."""
    _, _, key = setup_key(tenant, activations_limit=2)
    for machine in ("MACHINE-A", "MACHINE-B"):
        body = {"license_key": key["key"], "name": machine, "fingerprint": machine}
        assert net.post(tenant.base_url + "/licenses/activate", json=body).status_code == 201
    nonce = fresh_nonce()
    about_b = {"license_key": key["key"], "fingerprint": "MACHINE-B", "nonce": nonce}
    answer = validate(tenant.base_url, about_b)
    assert answer["signed"]["answer"]["fingerprint"] == "MACHINE-B"
    got = check(tenant, answer, nonce, license_key=key["key"], fingerprint="MACHINE-B")
    assert (got.valid, got.fingerprint) == (True, "MACHINE-B")
    assert check(tenant, answer, nonce, license_key=key["key"]).valid  # unpinned: passes
    with pytest.raises(v.WrongInstance):
        check(tenant, answer, nonce, license_key=key["key"], fingerprint="MACHINE-A")
    # an answer asked without a fingerprint says nothing about any machine
    bare = validate(tenant.base_url, {"license_key": key["key"], "nonce": nonce})
    assert "fingerprint" not in bare["signed"]["answer"]
    with pytest.raises(v.WrongInstance):
        check(tenant, bare, nonce, fingerprint="MACHINE-A")


def test_without_a_nonce_the_answer_is_as_before(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    r = net.post(tenant.base_url + "/licenses/validate", json={"license_key": key["key"]})
    assert r.content == b'{"valid":true,"state":"valid"}'
    r = net.post(
        tenant.base_url + "/licenses/validate", json={"license_key": key["key"], "nonce": None}
    )
    assert r.content == b'{"valid":true,"state":"valid"}'


@pytest.mark.parametrize(
    "nonce",
    [
        pytest.param("short", id="too-short"),
        pytest.param("n" * 129, id="too-long"),
        pytest.param("0123456789abcdef\n", id="newline"),
        pytest.param("0123456789 abcdef", id="space"),
        pytest.param(12345678901234567890, id="number"),
    ],
)
def test_a_bad_nonce_is_a_422(tenant: Tenant, nonce: object) -> None:
    r = net.post(tenant.base_url + "/licenses/validate", json={"license_key": "K", "nonce": nonce})
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
    assert "nonce" in r.json()["message"]


def test_the_fastapi_route_signs_alike(server: Server, tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    nonce = fresh_nonce()
    body = {"license_key": key["key"], "nonce": nonce}
    fast = validate(tenant.base_url, body)
    with serve_with(server, {"LICENSOR_FAST_PATH": "false"}) as slow:
        slow_answer = validate(slow.face("test"), body)
    a, b = check(tenant, fast, nonce), check(tenant, slow_answer, nonce)
    assert {**a.statement, "issued_at": None} == {**b.statement, "issued_at": None}


def test_the_sdk_validates_with_a_nonce(tenant: Tenant) -> None:
    _, _, key = setup_key(tenant)
    got = tenant.sdk().licenses.validate(
        license_key=key["key"], extra_body={"nonce": fresh_nonce()}
    )
    assert got.valid is True


def test_answers_after_a_revocation_are_signed_by_the_replacement(tenant: Tenant) -> None:
    """A fresh business: its first signed answer reads the active key after the revocation."""
    _, _, key = setup_key(tenant)
    with tenant.http() as http:
        (old,) = http.get("/signing_keys").json()["items"]
        new = http.post(f"/signing_keys/{old['kid']}/revoke").json()["replaced_by"]
    nonce = fresh_nonce()
    answer = validate(tenant.base_url, {"license_key": key["key"], "nonce": nonce})
    assert check(tenant, answer, nonce).kid == new


# -- the check-in ----------------------------------------------------------------------------


def test_checkin_with_a_nonce_echoes_it_and_a_digest_of_the_key(
    server: Server, tenant: Tenant
) -> None:
    instance = Instance(server, tenant)
    plan = make_plan(server, tenant, "premium", ["sso"])
    subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1))
    first, second = fresh_nonce(), fresh_nonce()
    a = instance.check_in({"instanceId": "host-1", "nonce": first}).json()
    b = instance.check_in({"instanceId": "host-1", "nonce": second}).json()
    assert (a["license"]["nonce"], b["license"]["nonce"]) == (first, second)  # never memoised
    assert instance.key not in str(a)
    got = check(
        tenant,
        a,
        first,
        license_key=instance.key,
        license_key_id=instance.key_id,
        instance_id="host-1",
    )
    assert (got.kind, got.valid, got.state) == ("checkin", True, "active")
    assert got.valid_until is not None
    assert got.valid_until - got.issued_at == timedelta(days=7)
    with pytest.raises(v.NonceMismatch):
        check(tenant, a, second)
    with pytest.raises(v.WrongInstance):
        check(tenant, a, first, instance_id="host-2")
    with pytest.raises(v.WrongLicenseKey):
        check(tenant, a, first, license_key="0" * 64)
    plain = instance.check_in({"instanceId": "host-1"}).json()["license"]
    assert "nonce" not in plain
    assert "licenseKeyDigest" not in plain
    with pytest.raises(v.NonceMismatch):  # an answer asked without a nonce is replayable
        check(tenant, instance.check_in().json(), first)
    bad = instance.check_in({"nonce": "short"})
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")
