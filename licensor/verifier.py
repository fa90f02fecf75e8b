"""Offline verification of Licensor license files.

Self-contained: imports only the standard library and `cryptography`, so client
software can import it from the package or copy this one file. The format is
documented in docs/license-file-format.md.

    payload = verify_license_file(text, load_public_keys(jwks_dict), grace=timedelta(days=14))

Every failure raises a subclass of `VerificationError`. The parser is strict: the
file must be exactly as Licensor wrote it (LF line ends, canonical base64, compact
JSON envelope), so that changing any byte of it makes verification fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BEGIN = "-----BEGIN LICENSOR LICENSE FILE-----"
END = "-----END LICENSOR LICENSE FILE-----"
LINE_WIDTH = 64
FORMAT_VERSION = 1
ALG_PLAIN = "ed25519"
ALG_ENCRYPTED = "aes-256-gcm+ed25519"
SIGNING_PREFIX = b"licensor/license-file/v1\x00"
HKDF_INFO = b"licensor/license-file/aes-256-gcm/v1"
NONCE_BYTES = 12
ENVELOPE_KEYS = ("alg", "enc", "kid", "sig", "v")


class VerificationError(Exception):
    """Base of every verification failure."""


class MalformedFile(VerificationError):
    """The text is not a license file in Licensor's exact format."""


class UnsupportedAlgorithm(VerificationError):
    """The file names an algorithm or version this verifier does not know."""


class UnknownKey(VerificationError):
    """No public key with the file's key id was given."""


class BadSignature(VerificationError):
    """The signature does not match the file's content under the named key."""


class LicenseKeyRequired(VerificationError):
    """The file is encrypted and no license key was given."""


class DecryptionFailed(VerificationError):
    """The license key given does not decrypt the file."""


class InvalidPayload(VerificationError):
    """The signed payload lacks a field or holds a value of the wrong type."""


class NotYetValid(VerificationError):
    """The license starts in the future."""


class Expired(VerificationError):
    """The license expired, and the grace period is over too."""


@dataclass(frozen=True)
class Licensee:
    name: str
    company: str
    email: str


@dataclass(frozen=True)
class PlanInfo:
    code: str
    name: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class SubscriptionRef:
    id: str
    external_id: str | None
    name: str | None


@dataclass(frozen=True)
class LicensePayload:
    version: int
    id: str
    type: str
    business_id: str
    mode: str
    licensee: Licensee
    plan: PlanInfo
    users_count: int
    starts_at: datetime
    expires_at: datetime
    issued_at: datetime
    subscription: SubscriptionRef | None
    cloud_instance_id: str | None
    kid: str


@dataclass(frozen=True)
class PublicKey:
    kid: str | None  # None: a key without an id (raw or PEM); tried for any file
    key: Ed25519PublicKey


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


def _b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedFile(f"{what} is not valid base64") from exc
    if b64encode(data) != text:  # non-canonical padding bits would let bytes change
        raise MalformedFile(f"{what} is not canonical base64")
    return data


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
    raw = _b64decode("".join(body), "the body")
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


def _check_signature(envelope: dict[str, Any], enc: bytes, keys: list[PublicKey]) -> None:
    candidates = [k for k in keys if k.kid == envelope["kid"]] or [k for k in keys if k.kid is None]
    if not candidates:
        raise UnknownKey(f"no public key with kid {envelope['kid']!r}")
    signature = _b64decode(envelope["sig"], "the signature")
    message = signing_input(envelope["alg"], enc)
    for candidate in candidates:
        try:
            candidate.key.verify(signature, message)
            return
        except InvalidSignature:
            continue
    raise BadSignature(f"the signature does not verify under key {envelope['kid']!r}")


def _decrypt(enc: bytes, alg: str, license_key: str | None) -> bytes:
    if license_key is None:
        raise LicenseKeyRequired("this license file is encrypted: pass its license key")
    try:
        return AESGCM(file_key(license_key)).decrypt(
            enc[:NONCE_BYTES], enc[NONCE_BYTES:], alg.encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("the license key does not decrypt this file") from exc


def _text(obj: Mapping[str, Any], name: str, optional: bool = False) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"payload field {name} must be a string")
    return value


def _time(obj: Mapping[str, Any], name: str) -> datetime:
    try:
        value = datetime.fromisoformat(_text(obj, name))
    except ValueError as exc:
        raise InvalidPayload(f"payload field {name} is not an ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _mapping(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise InvalidPayload(f"payload field {name} must be an object")
    return value


def payload_from_dict(data: Any, kid: str) -> LicensePayload:
    if not isinstance(data, dict):
        raise InvalidPayload("the payload must be a JSON object")
    who, plan, sub = _mapping(data, "licensee"), _mapping(data, "plan"), data.get("subscription")
    features = plan.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidPayload("payload field plan.features must be a list of strings")
    for name in ("version", "users_count"):
        if not isinstance(data.get(name), int) or isinstance(data.get(name), bool):
            raise InvalidPayload(f"payload field {name} must be an integer")
    if sub is not None and not isinstance(sub, dict):
        raise InvalidPayload("payload field subscription must be an object or null")
    return LicensePayload(
        version=data["version"],
        id=_text(data, "id"),
        type=_text(data, "type"),
        business_id=_text(data, "business_id"),
        mode=_text(data, "mode"),
        licensee=Licensee(_text(who, "name"), _text(who, "company"), _text(who, "email")),
        plan=PlanInfo(_text(plan, "code"), _text(plan, "name"), tuple(features)),
        users_count=data["users_count"],
        starts_at=_time(data, "starts_at"),
        expires_at=_time(data, "expires_at"),
        issued_at=_time(data, "issued_at"),
        subscription=None
        if sub is None
        else SubscriptionRef(
            _text(sub, "id"), _text(sub, "external_id", True), _text(sub, "name", True)
        ),
        cloud_instance_id=_text(data, "cloud_instance_id", True),
        kid=kid,
    )


def verify_license_file(
    text: str | bytes,
    public_keys: Any,
    *,
    license_key: str | None = None,
    now: datetime | None = None,
    grace: timedelta = timedelta(0),
    check_times: bool = True,
) -> LicensePayload:
    """Check the format, the signature (by kid), decrypt if needed, then the validity
    window: `NotYetValid` before `starts_at`, `Expired` after `expires_at + grace`."""
    keys = load_public_keys(public_keys)
    envelope = parse_envelope(text)
    enc = _b64decode(envelope["enc"], "the content")
    _check_signature(envelope, enc, keys)
    clear = _decrypt(enc, envelope["alg"], license_key) if envelope["alg"] == ALG_ENCRYPTED else enc
    try:
        data = json.loads(clear.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload("the payload is not JSON") from exc
    payload = payload_from_dict(data, envelope["kid"])
    if check_times:
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment < payload.starts_at:
            raise NotYetValid(f"the license starts at {payload.starts_at.isoformat()}")
        try:
            expired = moment - grace > payload.expires_at
        except OverflowError:  # a grace period longer than the calendar
            expired = False
        if expired:
            raise Expired(f"the license expired at {payload.expires_at.isoformat()}")
    return payload
