"""The thin path's shortcuts must answer exactly as the slow, obvious code they replace."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from licensor.kit.secrets import Vault
from licensor.license_key.fast import quick_validate_input
from licensor.license_key.public_schemas import ValidateIn

KEYISH = st.text(
    alphabet=st.sampled_from(["A", "z", "-", " ", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028"]),
    max_size=8,
) | st.text(min_size=500, max_size=530, alphabet="AB")
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), KEYISH,
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers()),
    st.text(min_size=60, max_size=70, alphabet="x"),
)  # fmt: skip
BODIES = st.dictionaries(
    st.sampled_from(["license_key", "license_key_instance_id", "product_id", "other"]), VALUES
) | st.one_of(VALUES)


def _agrees(raw: bytes) -> None:
    quick = quick_validate_input(raw)
    if quick is None:
        return  # pydantic decides, as before
    model = ValidateIn.model_validate_json(raw)  # must not raise
    assert quick == (model.license_key, model.license_key_instance_id, model.product_id)


@settings(max_examples=1500, deadline=None)
@given(BODIES)
def test_quick_validate_input_accepts_only_what_pydantic_accepts(body: Any) -> None:
    _agrees(json.dumps(body).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"license_key":"ABC-1"}',
        b'{"license_key":"ABC","license_key_instance_id":null,"x":[1,{"y":2}]}',
        b'{"license_key":1,"license_key":"abc"}',
        b'{"license_key":"abc","license_key":1}',
        b'{"license_key":"a\\u0000b"}',
        b'{"license_key":"  "}',
        b'{"license_key":""}',
        b'{"license_key":"abc","license_key_instance_id":""}',
        b'{"license_key":"abc","product_id":""}',
        b'{"license_key":"abc","product_id":7}',
        b'{"license_key":"abc","product_id":"p\\u0001"}',
        b'{"license_key":"abc","x":NaN}',
        b'{"license_key":"abc"}x',
        b'["license_key"]',
        b"",
        b"\xff",
    ],
)
def test_quick_validate_input_edge_cases(raw: bytes) -> None:
    _agrees(raw)


def test_quick_validate_input_takes_the_common_body() -> None:
    # Without this the shortcut could silently never fire.
    assert quick_validate_input(b'{"license_key":"K-1"}') == ("K-1", None, None)
    pinned = b'{"license_key":"K-1","product_id":"pro_1"}'
    assert quick_validate_input(pinned) == ("K-1", None, "pro_1")
    assert quick_validate_input(orjson.dumps({"license_key": "K", "license_key_instance_id": "i"}))
    assert quick_validate_input(b'{"license_key":"K\\u0007"}') is None
    with pytest.raises(ValidationError):
        ValidateIn.model_validate_json(b'{"license_key":"K\\u0007"}')


@given(st.text(max_size=40), st.sampled_from(["license_key", "api_key", ""]))
def test_lookup_hash_is_hmac_sha256_of_purpose_nul_secret(secret: str, purpose: str) -> None:
    master = b"m" * 32
    vault = Vault(master)
    key = Vault(master)._hmac_key
    msg = purpose.encode() + b"\x00" + secret.encode()
    want = hmac.new(key, msg, hashlib.sha256).digest()
    assert vault.lookup_hash(secret, purpose) == want
    assert vault.lookup_hash(secret, purpose) == want  # the cached, copied context is unharmed


def test_lookup_hash_differs_by_purpose() -> None:
    vault = Vault(os.urandom(32))
    assert vault.lookup_hash("k", "license_key") != vault.lookup_hash("k", "api_key")
