"""Signed answers that cannot be replayed: `POST /licenses/validate` and the instance
check-in, asked with a client `nonce` (docs/license-file-format.md, "Signed answers").

- validate: `{"valid", "signed": {"answer": {…}, "kid", "alg", "signature"}}`, the
  signature over `ANSWER_PREFIX || canonical JSON of answer`;
- check-in: `{"license": {…, "nonce", "licenseKeyDigest"}, "kid", "alg", "signature"}`,
  the signature over the canonical JSON of `license` (docs/instance-keys.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .encoding import ANSWER_PREFIX, JWS_ALG, b64url_decode, canonical_json, parse_time
from .errors import (
    MalformedAnswer,
    NonceMismatch,
    Revoked,
    StaleAnswer,
    UnsupportedAlgorithm,
    WrongBusiness,
    WrongInstance,
    WrongLicenseKey,
    WrongMode,
)
from .keys import load_public_keys, verify_by_kid
from .pins import check_issuer, check_mode_argument
from .revocations import RevocationList, parse_document

# kind -> the statement's names for: business, mode, time, key id, key digest, instance,
# validity, state
FIELDS = {
    "validate": (
        "business_id",
        "mode",
        "issued_at",
        "license_key_id",
        "license_key_digest",
        "license_key_instance_id",
        "valid",
        "state",
    ),
    "checkin": (
        "businessId",
        "mode",
        "issuedAt",
        "licenseKeyId",
        "licenseKeyDigest",
        "instanceId",
        "active",
        "status",
    ),
}


@dataclass(frozen=True)
class SignedAnswer:
    kind: str  # "validate" or "checkin"
    valid: bool  # validate's `valid`, the check-in's `active`
    state: str  # validate's `state`, the check-in's `status`
    nonce: str
    issued_at: datetime
    business_id: str
    mode: str
    license_key_id: str
    instance_id: str | None
    valid_until: datetime | None  # the check-in's `validUntil`
    kid: str
    statement: Mapping[str, Any]  # everything that was signed
    fingerprint: str | None = None  # validate's echo of the fingerprint sent, if one was


def license_key_digest(nonce: str, license_key: str) -> str:
    """What a signed answer carries instead of the key: HMAC-SHA256 keyed with the nonce,
    hex. A client recomputes it from its own key; the answer never holds the key."""
    return hmac.new(nonce.encode(), license_key.encode(), hashlib.sha256).hexdigest()


def _parts(doc: Mapping[str, Any]) -> tuple[str, Mapping[str, Any], Mapping[str, Any], bytes]:
    """(kind, statement, the member holding kid/alg/signature, the signed bytes)."""
    signed = doc.get("signed")
    if isinstance(signed, Mapping):
        statement = signed.get("answer")
        if not isinstance(statement, Mapping):
            raise MalformedAnswer("signed.answer must be an object")
        if doc.get("valid") is not statement.get("valid"):
            raise MalformedAnswer("the answer's valid differs from its signed statement")
        return "validate", statement, signed, ANSWER_PREFIX + canonical_json(statement)
    statement = doc.get("license")
    if isinstance(statement, Mapping):
        return "checkin", statement, doc, canonical_json(statement)
    raise MalformedAnswer(
        "no signed statement: was a nonce sent? (validate signs no answer for a key "
        "unknown to the face: treat it as not valid)"
    )


def _field(statement: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = statement.get(name)
    if not isinstance(value, kind):
        raise MalformedAnswer(f"the signed answer's {name} is missing or of the wrong type")
    return value


def verify_signed_answer(
    answer: Any,
    public_keys: Any,
    *,
    nonce: str,
    max_age: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
    business_id: str | None = None,
    mode: str | None = "live",
    license_key: str | None = None,
    license_key_id: str | None = None,
    instance_id: str | None = None,
    fingerprint: str | None = None,
    revocations: RevocationList | None = None,
    allow_unnamed_keys: bool = False,
) -> SignedAnswer:
    """Check a signed validate or check-in answer (the parsed JSON, or its text) that
    answers the request sent with `nonce`, and return what it says.

    In order: its shape (`MalformedAnswer`), `alg` (`UnsupportedAlgorithm`), its key not
    revoked (`Revoked`), the signature by kid (`UnknownKey`, `BadSignature`), the nonce
    (`NonceMismatch`), `issued_at` within `max_age` of now either way (`StaleAnswer`),
    then the pins: business and mode (`WrongBusiness`, `WrongMode`; live by default),
    the license key (`license_key`: its digest; `license_key_id`) (`WrongLicenseKey`),
    the instance (`instance_id`) and the machine (`fingerprint`: validate echoes the
    one sent) (`WrongInstance`), and the key id not in `revocations` (`Revoked`).
    A valid answer is `result.valid`; a verified `valid: false` is not an error."""
    check_mode_argument(mode)
    doc = parse_document(answer, MalformedAnswer)
    kind, statement, envelope, message = _parts(doc)
    kid, alg = _field(envelope, "kid", str), _field(envelope, "alg", str)
    if alg != JWS_ALG:
        raise UnsupportedAlgorithm(f"unsupported algorithm {alg!r}")
    if revocations is not None and revocations.revokes_key(kid):
        raise Revoked(f"the answer is signed by revoked key {kid!r}")
    try:
        signature = b64url_decode(_field(envelope, "signature", str))
    except ValueError as exc:
        raise MalformedAnswer("the signature is not base64url") from exc
    keys = load_public_keys(public_keys)
    verify_by_kid(kid, signature, message, keys, allow_unnamed=allow_unnamed_keys)
    b_name, m_name, t_name, k_name, d_name, i_name, v_name, s_name = FIELDS[kind]
    echoed = statement.get("nonce")
    if not isinstance(echoed, str) or not hmac.compare_digest(echoed.encode(), nonce.encode()):
        raise NonceMismatch("the answer does not echo this request's nonce (a replay?)")
    try:
        issued_at = parse_time(statement.get(t_name))
    except ValueError as exc:
        raise MalformedAnswer(f"the signed answer's {t_name} is not an ISO 8601 time") from exc
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if abs(moment - issued_at) > max_age:
        raise StaleAnswer(f"the answer was issued at {issued_at.isoformat()}, not within {max_age}")
    business, found_mode = _field(statement, b_name, str), _field(statement, m_name, str)
    check_issuer(business, found_mode, business_id, mode, "the answer")
    key_id = _field(statement, k_name, str)
    if license_key is not None:
        own = license_key.strip().lower() if kind == "checkin" else license_key
        digest = _field(statement, d_name, str)
        if not hmac.compare_digest(digest.encode(), license_key_digest(nonce, own).encode()):
            raise WrongLicenseKey("the answer is about another license key")
    if license_key_id is not None and key_id != license_key_id:
        raise WrongLicenseKey(f"the answer is about license key {key_id!r}")
    instance = statement.get(i_name)
    if instance is not None and not isinstance(instance, str):
        raise MalformedAnswer(f"the signed answer's {i_name} must be a string or null")
    if instance_id is not None and instance != instance_id:
        raise WrongInstance(f"the answer is about instance {instance!r}")
    machine = statement.get("fingerprint")
    if machine is not None and not isinstance(machine, str):
        raise MalformedAnswer("the signed answer's fingerprint must be a string")
    if fingerprint is not None and machine != fingerprint:
        raise WrongInstance(f"the answer is about machine {machine!r}")
    if revocations is not None:
        if revocations.business_id != business:
            raise WrongBusiness("the revocation list is of another business")
        if revocations.mode != found_mode:
            raise WrongMode("the revocation list is of another mode")
        if revocations.revokes_license(key_id):
            raise Revoked(f"license key {key_id!r} is revoked")
    valid_until = None
    if kind == "checkin":
        try:
            valid_until = parse_time(statement.get("validUntil"))
        except ValueError as exc:
            raise MalformedAnswer("the check-in answer's validUntil is not a time") from exc
    return SignedAnswer(
        kind=kind,
        valid=_field(statement, v_name, bool),
        state=_field(statement, s_name, str),
        nonce=echoed,
        issued_at=issued_at,
        business_id=business,
        mode=found_mode,
        license_key_id=key_id,
        instance_id=instance,
        valid_until=valid_until,
        kid=kid,
        statement=statement,
        fingerprint=machine,
    )
