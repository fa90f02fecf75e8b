"""The exact text format of a license file: envelope, base64, canonical JSON, signature
input and the encrypted content (docs/license-file-format.md, sections 1 to 4)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import DecryptionFailed, LicenseKeyRequired, MalformedFile, UnsupportedAlgorithm

BEGIN = "-----BEGIN LICENSOR LICENSE FILE-----"
END = "-----END LICENSOR LICENSE FILE-----"
LINE_WIDTH = 64
FORMAT_VERSION = 1
ALG_PLAIN = "ed25519"
ALG_ENCRYPTED = "aes-256-gcm+ed25519"
SIGNING_PREFIX = b"licensor/license-file/v1\x00"
# The signed answers of `/licenses/validate` and the revocation lists: the same idea
# (Ed25519 over canonical JSON), each with its own prefix so that no signature of one
# kind can pass for another (a check-in answer signs its bare canonical JSON: `{…`).
ANSWER_PREFIX = b"licensor/signed-answer/v1\x00"
REVOCATIONS_PREFIX = b"licensor/revocations/v1\x00"
JWS_ALG = "EdDSA"
HKDF_INFO = b"licensor/license-file/aes-256-gcm/v1"
NONCE_BYTES = 12
ENVELOPE_KEYS = ("alg", "enc", "kid", "sig", "v")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_input(alg: str, enc: bytes) -> bytes:
    return SIGNING_PREFIX + alg.encode() + b"\x00" + enc


def file_key(license_key: str) -> bytes:
    """The AES-256-GCM key of an encrypted file: HKDF-SHA256 of the license key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return hkdf.derive(license_key.encode())


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """base64url without padding (RFC 4648 §5), as JWKs and signed answers carry it;
    ValueError when it is not."""
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def parse_time(value: Any) -> datetime:
    """An ISO 8601 time, taken as UTC when it has no offset; ValueError when it is not."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedFile(f"{what} is not valid base64") from exc
    if b64encode(data) != text:  # non-canonical padding bits would let bytes change
        raise MalformedFile(f"{what} is not canonical base64")
    return data


def parse_envelope(text: str | bytes) -> dict[str, Any]:
    """The envelope of a file, after the exact-format checks (no signature check)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedFile("a license file is ASCII text") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise MalformedFile(f"a license file starts with {BEGIN} and ends with {END}")
    body = lines[1:-1]
    if any(len(line) != LINE_WIDTH for line in body[:-1]) or not 0 < len(body[-1]) <= LINE_WIDTH:
        raise MalformedFile(f"the body must be wrapped at {LINE_WIDTH} columns")
    raw = b64decode("".join(body), "the body")
    try:
        envelope = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedFile("the body is not JSON") from exc
    if not isinstance(envelope, dict) or tuple(sorted(envelope)) != ENVELOPE_KEYS:
        raise MalformedFile(f"the envelope must hold exactly {', '.join(ENVELOPE_KEYS)}")
    if canonical_json(envelope) != raw:
        raise MalformedFile("the envelope is not in canonical JSON")
    if envelope["v"] != FORMAT_VERSION:
        raise UnsupportedAlgorithm(f"unsupported license file version {envelope['v']!r}")
    if envelope["alg"] not in (ALG_PLAIN, ALG_ENCRYPTED):
        raise UnsupportedAlgorithm(f"unsupported algorithm {envelope['alg']!r}")
    for name in ("enc", "kid", "sig"):
        if not isinstance(envelope[name], str):
            raise MalformedFile(f"envelope field {name} must be a string")
    return envelope


def decrypt(enc: bytes, alg: str, license_key: str | None) -> bytes:
    if license_key is None:
        raise LicenseKeyRequired("this license file is encrypted: pass its license key")
    try:
        return AESGCM(file_key(license_key)).decrypt(
            enc[:NONCE_BYTES], enc[NONCE_BYTES:], alg.encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("the license key does not decrypt this file") from exc
