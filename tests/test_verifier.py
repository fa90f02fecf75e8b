"""The offline verifier: every failure has its own error, any changed byte fails, and
the module runs with nothing but the standard library and `cryptography` importable."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from licensor import verifier as v
from licensor.license_desk import licensefile
from licensor.signing.service import b64url
from tests.verifier_helpers import NOW, mint

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
FILE = mint(KEY)
KEYS = {"sig_a": KEY.public_key()}


def jwks(*pairs: tuple[str, Ed25519PrivateKey]) -> dict[str, list[dict[str, str]]]:
    raw = PublicFormat.Raw
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": kid,
                "x": b64url(k.public_key().public_bytes(Encoding.Raw, raw)),
            }
            for kid, k in pairs
        ]
    }


def pem(key: Ed25519PrivateKey) -> str:
    spki = PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(Encoding.PEM, spki).decode()


def test_verifies_and_returns_a_typed_payload() -> None:
    got = v.verify_license_file(FILE, KEYS, now=NOW)
    assert isinstance(got, v.LicensePayload)
    assert got.licensee == v.Licensee("Lee", "Acme", "lee@acme.test")
    assert got.plan == v.PlanInfo("premium", "Premium", ("sso", "audit"))
    assert got.users_count == 25
    assert got.subscription == v.SubscriptionRef("sub_1", "A-S0001", "A-S0001")
    assert got.kid == "sig_a"
    assert got.expires_at is not None  # None only on a machine file of a key without expiry
    assert got.expires_at.tzinfo is not None
    assert got.instance_id is None  # a file without the field (written before it) verifies


def test_an_online_cloud_file_names_its_instance() -> None:
    text = mint(KEY, type="online_cloud", cloud_instance_id="ins_1", instance_id="gl-7f3a")
    got = v.verify_license_file(text, KEYS, now=NOW)
    assert (got.cloud_instance_id, got.instance_id) == ("ins_1", "gl-7f3a")


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(jwks(("sig_old", OTHER), ("sig_a", KEY)), id="jwks"),
        pytest.param(json.dumps(jwks(("sig_a", KEY))), id="jwks-text"),
        pytest.param(jwks(("sig_a", KEY))["keys"][0], id="jwk"),
        pytest.param(f"# kid: sig_old\n{pem(OTHER)}# kid: sig_a\n{pem(KEY)}", id="pem-with-kids"),
        pytest.param({"sig_a": pem(KEY)}, id="kid-mapping"),
    ],
)
def test_accepts_every_key_form(keys: object) -> None:
    assert v.verify_license_file(FILE, keys, now=NOW).id == "dlc_test"


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(pem(KEY), id="pem-without-kid"),
        pytest.param(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), id="raw"),
        pytest.param([pem(OTHER), KEY.public_key()], id="list"),
    ],
)
def test_keys_without_a_kid_only_when_the_caller_opts_in(keys: object) -> None:
    with pytest.raises(v.UnknownKey, match="allow_unnamed_keys"):
        v.verify_license_file(FILE, keys, now=NOW)
    assert v.verify_license_file(FILE, keys, now=NOW, allow_unnamed_keys=True).id == "dlc_test"


def test_unknown_kid() -> None:
    with pytest.raises(v.UnknownKey, match="sig_a"):
        v.verify_license_file(FILE, jwks(("sig_b", KEY)), now=NOW)


def test_unloadable_key() -> None:
    with pytest.raises(v.UnknownKey):
        v.verify_license_file(FILE, {"keys": [{"kty": "RSA", "n": "x"}]}, now=NOW)


def test_signature_by_another_key() -> None:
    forged = mint(OTHER, kid="sig_a")
    with pytest.raises(v.BadSignature):
        v.verify_license_file(forged, KEYS, now=NOW)


def test_time_window_with_grace() -> None:
    got = v.verify_license_file(FILE, KEYS, now=NOW)
    assert got.expires_at is not None
    with pytest.raises(v.NotYetValid):
        v.verify_license_file(FILE, KEYS, now=got.starts_at - timedelta(seconds=1))
    after = got.expires_at + timedelta(days=1)
    with pytest.raises(v.Expired):
        v.verify_license_file(FILE, KEYS, now=after)
    assert v.verify_license_file(FILE, KEYS, now=after, grace=timedelta(days=14)).id
    with pytest.raises(v.Expired):
        v.verify_license_file(FILE, KEYS, now=after, grace=timedelta(hours=23))
    assert v.verify_license_file(FILE, KEYS, now=after, check_times=False).id


def test_extreme_dates_do_not_overflow() -> None:
    far = mint(KEY, expires_at="9999-12-31T23:59:59+00:00")
    assert v.verify_license_file(far, KEYS, now=NOW, grace=timedelta(days=30)).id
    assert v.verify_license_file(FILE, KEYS, now=NOW, grace=timedelta.max).id
    early = mint(KEY, starts_at="0001-01-01T00:00:00+01:00")
    assert v.verify_license_file(early, KEYS, now=NOW).starts_at.year == 1


def test_encrypted_file_needs_its_license_key() -> None:
    sealed = mint(KEY, license_key="AAAAA-BBBBB")
    assert b"Acme" not in base64.b64decode("".join(sealed.splitlines()[1:-1]))
    with pytest.raises(v.LicenseKeyRequired):
        v.verify_license_file(sealed, KEYS, now=NOW)
    with pytest.raises(v.DecryptionFailed):
        v.verify_license_file(sealed, KEYS, now=NOW, license_key="AAAAA-BBBBC")
    got = v.verify_license_file(sealed, KEYS, now=NOW, license_key="AAAAA-BBBBB")
    assert got.licensee.company == "Acme"


def _envelope_file(envelope: dict[str, object]) -> str:
    body = base64.b64encode(v.canonical_json(envelope)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([v.BEGIN, *lines, v.END]) + "\n"


def test_unsupported_algorithm_and_version() -> None:
    envelope = json.loads(base64.b64decode("".join(FILE.splitlines()[1:-1])))
    with pytest.raises(v.UnsupportedAlgorithm):
        v.verify_license_file(_envelope_file({**envelope, "alg": "rsa"}), KEYS, now=NOW)
    with pytest.raises(v.UnsupportedAlgorithm):
        v.verify_license_file(_envelope_file({**envelope, "v": 2}), KEYS, now=NOW)
    with pytest.raises(v.MalformedFile):
        v.verify_license_file(_envelope_file({**envelope, "extra": 1}), KEYS, now=NOW)


@pytest.mark.parametrize(
    "override",
    [
        {"users_count": "25"},
        {"licensee": None},
        {"expires_at": "soon"},
        {"id": 7},
        {"instance_id": 7},
    ],
)
def test_signed_but_invalid_payload(override: dict[str, Any]) -> None:
    with pytest.raises(v.InvalidPayload):
        v.verify_license_file(mint(KEY, **override), KEYS, now=NOW)


@pytest.mark.parametrize(
    "text",
    ["", "hello", FILE.replace("\n", "\r\n"), FILE.replace(v.BEGIN, v.BEGIN + " "), "\u00e9" * 10],
)
def test_malformed(text: str) -> None:
    with pytest.raises(v.MalformedFile):
        v.verify_license_file(text, KEYS, now=NOW)


def test_trailing_newline_is_optional() -> None:
    assert v.verify_license_file(FILE.rstrip("\n"), KEYS, now=NOW).id == "dlc_test"


SEALED = mint(KEY, license_key="KEY-1")


@settings(max_examples=400, deadline=None)
@given(data=st.data(), encrypted=st.booleans())
def test_flipping_any_byte_fails(data: st.DataObject, encrypted: bool) -> None:
    original = (SEALED if encrypted else FILE).encode()
    index = data.draw(st.integers(0, len(original) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="xor mask")
    tampered = bytearray(original)
    tampered[index] ^= mask
    with pytest.raises(v.VerificationError):
        v.verify_license_file(bytes(tampered), KEYS, now=NOW, license_key="KEY-1")


def test_every_single_bit_flip_fails() -> None:
    original = FILE.encode()
    for index in range(len(original)):
        for bit in range(8):
            tampered = bytearray(original)
            tampered[index] ^= 1 << bit
            with pytest.raises(v.VerificationError):
                v.verify_license_file(bytes(tampered), KEYS, now=NOW)


ISOLATED = r"""
import importlib.abc, json, sys
ALLOWED = set(sys.stdlib_module_names) | {"cryptography", "_cffi_backend", "verifier"}

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in ALLOWED:
            raise ImportError(f"blocked import of {name}")
        return None

sys.meta_path.insert(0, Blocker())
sys.path[:] = [p for p in sys.path if p] + sys.argv[1:2]
for probe in ("licensor", "pydantic", "sqlalchemy", "nacl"):
    try:
        __import__(probe)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{probe} should not be importable")
import verifier
# cryptography's Rust extension registers its OpenSSL binding as `_openssl` (no file)
outside = {m.split(".")[0] for m in sys.modules} - ALLOWED - {"__main__", "_openssl"}
assert not outside, outside
assert getattr(sys.modules.get("_openssl"), "__file__", None) is None
text = open(sys.argv[2]).read()
got = verifier.verify_license_file(text, json.load(open(sys.argv[3])), check_times=False)
loaded = {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
print(json.dumps({"id": got.id, "users": got.users_count, "kid": got.kid,
                  "modules": sorted(loaded)}))
lines = text.split("\n")
lines[1] = lines[1][:10] + ("B" if lines[1][10] != "B" else "C") + lines[1][11:]
try:
    verifier.verify_license_file("\n".join(lines), json.load(open(sys.argv[3])))
except verifier.VerificationError as exc:
    print(type(exc).__name__)
else:
    print("tampered file verified")
# the activation request command, as `python -m verifier.request` runs it
import runpy
out = sys.argv[2] + ".request"
sys.argv[:] = ["verifier.request", "--license-key", "KEY-1", "--product-id", "pdt_1",
               "--fingerprint", "m-1", "-o", out]
try:
    runpy.run_module("verifier.request", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    assert exc.code == 0, exc.code
from verifier.request import parse_activation_request
print(parse_activation_request(open(out).read()).fingerprint)
"""


def test_runs_with_only_stdlib_and_cryptography(tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copytree(Path(v.__file__).parent, alone / "verifier")
    (tmp_path / "check.py").write_text(ISOLATED)
    (tmp_path / "license.txt").write_text(FILE)
    (tmp_path / "jwks.json").write_text(json.dumps(jwks(("sig_a", KEY))))
    site = sysconfig.get_paths()["purelib"]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(alone)}
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            str(tmp_path / "check.py"),
            site,
            str(tmp_path / "license.txt"),
            str(tmp_path / "jwks.json"),
        ],
        env=env,
        cwd=alone,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second, third = done.stdout.splitlines()
    result = json.loads(first)
    assert result["id"] == "dlc_test"
    assert result["kid"] == "sig_a"
    allowed = {"cryptography", "_cffi_backend", "_openssl", "verifier", "__main__"}
    assert set(result["modules"]) <= allowed
    assert "cryptography" in result["modules"]
    assert second in ("BadSignature", "MalformedFile")
    assert third == "m-1"  # the request command ran under the same import blocker


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
@settings(max_examples=300, deadline=None)
def test_the_writers_fast_canonical_json_is_the_verifiers(value: Any) -> None:
    """The writer's orjson encoding (licensefile.canonical_json) must give exactly the bytes
    the verifier signs and checks: control characters, quotes, non-ASCII and key order."""
    assert licensefile.canonical_json(value) == v.canonical_json(value)
