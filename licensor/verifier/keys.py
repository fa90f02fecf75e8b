"""Public keys in every shape a client may hold them, and the signature check by kid."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .encoding import b64decode, signing_input
from .errors import BadSignature, UnknownKey


@dataclass(frozen=True)
class PublicKey:
    kid: str | None  # None: a key without an id (raw or PEM); see `verify_by_kid`
    key: Ed25519PublicKey


def _b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def _ed25519(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError("only OKP Ed25519 JWKs are supported")
    kid = jwk.get("kid")
    return PublicKey(kid if isinstance(kid, str) else None, _ed25519(_b64url_decode(jwk["x"])))


_PEM_BLOCK = re.compile(
    r"(?:#\s*kid:\s*(?P<kid>\S+)\s*\n)?"
    r"(?P<pem>-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----)",
    re.S,
)


def _from_pem(text: str) -> list[PublicKey]:
    keys = []
    for match in _PEM_BLOCK.finditer(text):
        loaded = serialization.load_pem_public_key(match["pem"].encode())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        keys.append(PublicKey(match["kid"], loaded))
    if not keys:
        raise ValueError("no PEM public key found")
    return keys


def load_public_keys(source: Any) -> list[PublicKey]:
    """Public keys from a JWKS dict, one JWK dict, `{kid: key}`, PEM text (with optional
    `# kid: …` lines before each block, as `licensor signing-keys public --format pem`
    prints), 32 raw bytes, an `Ed25519PublicKey`, or a list of any of these."""
    try:
        if isinstance(source, PublicKey):
            return [source]
        if isinstance(source, Ed25519PublicKey):
            return [PublicKey(None, source)]
        if isinstance(source, bytes):
            if source.lstrip().startswith(b"-----BEGIN") or b"# kid:" in source:
                return _from_pem(source.decode())
            return [PublicKey(None, _ed25519(source))]
        if isinstance(source, str):
            stripped = source.strip()
            if stripped.startswith("{"):
                return load_public_keys(json.loads(stripped))
            return _from_pem(source)
        if isinstance(source, Mapping):
            if isinstance(source.get("keys"), list):
                return [_from_jwk(k) for k in source["keys"]]
            if "kty" in source:
                return [_from_jwk(source)]
            out = []
            for kid, value in source.items():
                out += [PublicKey(str(kid), k.key) for k in load_public_keys(value)]
            return out
        if isinstance(source, Iterable):
            return [k for item in source for k in load_public_keys(item)]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise UnknownKey(f"cannot load public key: {exc}") from exc
    raise UnknownKey(f"cannot load public key from {type(source).__name__}")


def verify_by_kid(
    kid: str,
    signature: bytes,
    message: bytes,
    keys: list[PublicKey],
    *,
    allow_unnamed: bool = False,
) -> None:
    """Verify `signature` over `message` with the key named `kid`. A key given without a
    kid (raw bytes, a bare PEM, an `Ed25519PublicKey`) is tried only with `allow_unnamed`
    and only when no key has that kid: it would otherwise accept a signature of any kid."""
    candidates = [k for k in keys if k.kid == kid]
    if not candidates and allow_unnamed:
        candidates = [k for k in keys if k.kid is None]
    if not candidates:
        hint = ""
        if not allow_unnamed and any(k.kid is None for k in keys):
            hint = " (keys without a kid are tried only with allow_unnamed_keys=True)"
        raise UnknownKey(f"no public key with kid {kid!r}{hint}")
    for candidate in candidates:
        try:
            candidate.key.verify(signature, message)
            return
        except InvalidSignature:
            continue
    raise BadSignature(f"the signature does not verify under key {kid!r}")


def check_signature(
    envelope: dict[str, Any], enc: bytes, keys: list[PublicKey], *, allow_unnamed: bool = False
) -> None:
    """A license file's signature (docs/license-file-format.md, section 4)."""
    signature = b64decode(envelope["sig"], "the signature")
    message = signing_input(envelope["alg"], enc)
    verify_by_kid(envelope["kid"], signature, message, keys, allow_unnamed=allow_unnamed)
