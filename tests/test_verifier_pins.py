"""What the offline verifier pins (business, mode, license types, binding, named keys), the
revocation list it loads, and the signed answers it checks — all minted in-process."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from licensor import verifier as v
from tests.test_verifier import jwks
from tests.verifier_helpers import NOW, mint, mint_revocations, mint_validate_answer

LIVE = Ed25519PrivateKey.generate()
TEST = Ed25519PrivateKey.generate()
OLD = Ed25519PrivateKey.generate()
# A client that ships both key sets, as the JWKS of each mode publishes them
BOTH = jwks(("sig_live", LIVE), ("sig_test", TEST))
KEYS = jwks(("sig_live", LIVE), ("sig_old", OLD))
NONCE = "n0nce-0123456789abcdef"


def live_file(**overrides: Any) -> str:
    return mint(LIVE, kid="sig_live", **overrides)


# -- what happened before: the "today" points of issue 12 ------------------------------------


def test_a_test_mode_file_is_refused_by_a_client_that_ships_both_key_sets() -> None:
    """Before: a test-mode file, signed by the test key, verified for any client that was
    given both JWKS documents. Now live is the default and test must be asked for."""
    test_file = mint(TEST, kid="sig_test", mode="test")
    with pytest.raises(v.WrongMode, match="test mode"):
        v.verify_license_file(test_file, BOTH, now=NOW)
    assert v.verify_license_file(test_file, BOTH, now=NOW, mode="test").mode == "test"
    assert v.verify_license_file(live_file(), BOTH, now=NOW).mode == "live"
    with pytest.raises(v.WrongMode):
        v.verify_license_file(live_file(), BOTH, now=NOW, mode="test")
    assert v.verify_license_file(test_file, BOTH, now=NOW, mode=None).mode == "test"


def test_a_bare_key_no_longer_accepts_a_file_of_any_kid() -> None:
    """Before: a key given without a kid (raw, bare PEM) was tried for a file of any kid."""
    raw = LIVE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    odd = mint(LIVE, kid="sig_anything")
    with pytest.raises(v.UnknownKey):
        v.verify_license_file(odd, raw, now=NOW)
    with pytest.raises(v.UnknownKey):
        v.verify_license_file(odd, LIVE.public_key(), now=NOW)
    assert v.verify_license_file(odd, raw, now=NOW, allow_unnamed_keys=True).kid == "sig_anything"
    # a named key still wins over a bare one, and a bare key never stands in for a wrong kid
    with pytest.raises(v.BadSignature):
        v.verify_license_file(odd, [{"sig_anything": OLD.public_key()}, raw], now=NOW)


# -- pinning ---------------------------------------------------------------------------------


def test_pins_the_business() -> None:
    assert v.verify_license_file(live_file(), KEYS, now=NOW, business_id="bus_test").id
    with pytest.raises(v.WrongBusiness, match="bus_test"):
        v.verify_license_file(live_file(), KEYS, now=NOW, business_id="bus_other")


def test_pins_the_license_types() -> None:
    cloud = live_file(type="offline_cloud")
    assert v.verify_license_file(cloud, KEYS, now=NOW, license_types={"offline_cloud"}).id
    assert v.verify_license_file(cloud, KEYS, now=NOW, license_types="offline_cloud").id
    with pytest.raises(v.WrongLicenseType, match="offline_cloud"):
        v.verify_license_file(cloud, KEYS, now=NOW, license_types=("legacy", "online_cloud"))
    with pytest.raises(v.PinMismatch):
        v.verify_license_file(cloud, KEYS, now=NOW, license_types=[])


def test_pins_the_instance_and_the_machine_of_a_bound_file() -> None:
    bound = live_file(type="online_cloud", instance_id="host-1", cloud_instance_id="ins_1")
    got = v.verify_license_file(bound, KEYS, now=NOW, instance_id="host-1")
    assert (got.instance_id, got.cloud_instance_id) == ("host-1", "ins_1")
    with pytest.raises(v.WrongInstance, match="host-1"):
        v.verify_license_file(bound, KEYS, now=NOW, instance_id="host-2")
    machine = live_file(fingerprint="fp-abc")
    assert v.verify_license_file(machine, KEYS, now=NOW, fingerprint="fp-abc").fingerprint
    with pytest.raises(v.WrongInstance, match="fp-abc"):
        v.verify_license_file(machine, KEYS, now=NOW, fingerprint="fp-xyz")
    # an unbound file carries neither field and passes either pin
    assert v.verify_license_file(live_file(), KEYS, now=NOW, instance_id="h", fingerprint="f").id


def test_a_mode_argument_outside_test_and_live_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="mode"):
        v.verify_license_file(live_file(), KEYS, now=NOW, mode="production")


# -- the revocation list ---------------------------------------------------------------------


def load(doc: Any, **kwargs: Any) -> v.RevocationList:
    kwargs.setdefault("now", NOW)
    return v.load_revocation_list(doc, KEYS, business_id="bus_test", **kwargs)


def test_a_revocation_list_refuses_files_of_revoked_keys_and_licenses() -> None:
    old_file = mint(OLD, kid="sig_old")
    doc = mint_revocations(LIVE, "sig_live", revoked_kids=("sig_old",))
    revocations = load(json.dumps(doc))
    assert revocations.revokes_key("sig_old")
    assert (revocations.business_id, revocations.mode, revocations.kid) == (
        "bus_test",
        "live",
        "sig_live",
    )
    assert v.verify_license_file(old_file, KEYS, now=NOW).kid == "sig_old"
    with pytest.raises(v.Revoked, match="sig_old"):
        v.verify_license_file(old_file, KEYS, now=NOW, revocations=revocations)
    assert v.verify_license_file(live_file(), KEYS, now=NOW, revocations=revocations).id
    by_license = load(mint_revocations(LIVE, "sig_live", revoked_license_ids=("dlc_test",)))
    with pytest.raises(v.Revoked, match="dlc_test"):
        v.verify_license_file(live_file(), KEYS, now=NOW, revocations=by_license)


def test_a_revocation_list_is_signed_dated_and_pinned() -> None:
    good = mint_revocations(LIVE, "sig_live")
    tampered = json.loads(json.dumps(good))
    tampered["revocations"]["revoked_kids"] = []
    tampered["revocations"]["issued_at"] = (NOW + timedelta(seconds=1)).isoformat()
    with pytest.raises(v.BadSignature):
        load(tampered)
    with pytest.raises(v.UnknownKey):
        load(mint_revocations(TEST, "sig_test"))
    with pytest.raises(v.WrongBusiness):
        v.load_revocation_list(good, KEYS, business_id="bus_other", now=NOW)
    with pytest.raises(v.WrongMode):
        v.load_revocation_list(good, KEYS, business_id="bus_test", mode="test", now=NOW)
    with pytest.raises(v.StaleRevocationList):
        load(good, now=NOW + timedelta(days=2))
    assert load(good, now=NOW + timedelta(days=2), check_times=False).kid == "sig_live"
    with pytest.raises(v.NotYetValid):
        load(good, now=NOW - timedelta(hours=1))
    with pytest.raises(v.Revoked):  # signed by a key it revokes itself
        load(mint_revocations(LIVE, "sig_live", revoked_kids=("sig_live",)))
    for broken in ({**good, "extra": 1}, {**good, "alg": "RS256"}, "[]", "not json"):
        with pytest.raises((v.MalformedRevocationList, v.UnsupportedAlgorithm)):
            load(broken)


def test_a_revocation_list_cannot_be_rolled_back() -> None:
    first = load(mint_revocations(LIVE, "sig_live", revoked_kids=("sig_old",)))
    older = mint_revocations(LIVE, "sig_live", issued_at=NOW - timedelta(hours=1))
    with pytest.raises(v.StaleRevocationList, match="before"):
        load(older, previous=first)
    # a newer list that forgets a revoked key does not bring it back
    newer = load(mint_revocations(LIVE, "sig_live", issued_at=NOW), previous=first)
    assert newer.revokes_key("sig_old")
    # nor is a list signed by a key the held list revokes accepted
    with pytest.raises(v.Revoked):
        load(mint_revocations(OLD, "sig_old"), previous=first)


# -- signed answers --------------------------------------------------------------------------


def check(answer: Any, **kwargs: Any) -> v.SignedAnswer:
    kwargs.setdefault("now", NOW)
    return v.verify_signed_answer(answer, KEYS, nonce=NONCE, **kwargs)


def test_a_signed_validate_answer_verifies_and_says_what_it_answers() -> None:
    answer = mint_validate_answer(LIVE, NONCE, "sig_live")
    got = check(json.dumps(answer), license_key="KEY-1", license_key_id="lic_1")
    assert (got.kind, got.valid, got.state, got.nonce) == ("validate", True, "active", NONCE)
    assert (got.business_id, got.mode, got.license_key_id, got.kid) == (
        "bus_test",
        "live",
        "lic_1",
        "sig_live",
    )
    refused = mint_validate_answer(LIVE, NONCE, "sig_live", valid=False, state="disabled")
    assert check(refused).valid is False


def test_a_signed_answer_cannot_be_replayed_or_borrowed() -> None:
    answer = mint_validate_answer(LIVE, NONCE, "sig_live")
    with pytest.raises(v.NonceMismatch):
        v.verify_signed_answer(answer, KEYS, nonce="another-nonce-0123456", now=NOW)
    with pytest.raises(v.StaleAnswer):
        check(answer, now=NOW + timedelta(minutes=6))
    assert check(answer, now=NOW + timedelta(minutes=6), max_age=timedelta(minutes=10)).valid
    with pytest.raises(v.StaleAnswer):
        check(answer, now=NOW - timedelta(minutes=6))
    with pytest.raises(v.WrongLicenseKey):
        check(answer, license_key="KEY-2")
    with pytest.raises(v.WrongLicenseKey):
        check(answer, license_key_id="lic_2")
    with pytest.raises(v.WrongInstance):
        check(answer, instance_id="lki_1")
    with pytest.raises(v.WrongBusiness):
        check(answer, business_id="bus_other")
    with pytest.raises(v.WrongMode):
        check(answer, mode="test")


def test_a_tampered_or_unsigned_answer_is_refused() -> None:
    answer = mint_validate_answer(LIVE, NONCE, "sig_live", valid=False, state="disabled")
    flipped = json.loads(json.dumps(answer))
    flipped["valid"] = True  # the unsigned outer field
    with pytest.raises(v.MalformedAnswer):
        check(flipped)
    flipped["signed"]["answer"]["valid"] = True
    with pytest.raises(v.BadSignature):
        check(flipped)
    with pytest.raises(v.MalformedAnswer, match="nonce"):
        check({"valid": True})
    revocations = load(mint_revocations(LIVE, "sig_live", revoked_kids=("sig_old",)))
    by_old = mint_validate_answer(OLD, NONCE, "sig_old")
    assert check(by_old).kid == "sig_old"
    with pytest.raises(v.Revoked):
        check(by_old, revocations=revocations)
    disabled = load(mint_revocations(LIVE, "sig_live", revoked_license_ids=("lic_1",)))
    with pytest.raises(v.Revoked, match="lic_1"):
        check(mint_validate_answer(LIVE, NONCE, "sig_live"), revocations=disabled)
