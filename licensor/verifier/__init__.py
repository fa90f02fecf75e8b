"""Offline verification of Licensor license files.

Self-contained: imports only the standard library and `cryptography`, so client
software can import it from the package or copy this one folder (`verifier/`). The format is
documented in docs/license-file-format.md.

    keys = load_public_keys(jwks_dict)
    revocations = load_revocation_list(list_json, keys, business_id=BUSINESS)
    payload = verify_license_file(
        text, keys, business_id=BUSINESS, license_types={"offline_cloud"},
        revocations=revocations, grace=timedelta(days=14),
    )
    answer = verify_signed_answer(response_json, keys, nonce=nonce, business_id=BUSINESS,
                                  license_key=key)

An air-gapped machine's activation request (and its command, `python -m
verifier.request`) is `verifier.request`, imported on its own: docs/machines.md.

Every failure raises a subclass of `VerificationError`. The parser is strict: the
file must be exactly as Licensor wrote it (LF line ends, canonical base64, compact
JSON envelope), so that changing any byte of it makes verification fail.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from .answers import SignedAnswer, license_key_digest, verify_signed_answer
from .encoding import (
    ALG_ENCRYPTED,
    ALG_PLAIN,
    ANSWER_PREFIX,
    BEGIN,
    END,
    ENVELOPE_KEYS,
    FORMAT_VERSION,
    HKDF_INFO,
    JWS_ALG,
    LINE_WIDTH,
    NONCE_BYTES,
    REVOCATIONS_PREFIX,
    SIGNING_PREFIX,
    b64decode,
    b64encode,
    b64url_decode,
    b64url_encode,
    canonical_json,
    decrypt,
    file_key,
    parse_envelope,
    signing_input,
)
from .errors import (
    BadSignature,
    DecryptionFailed,
    Expired,
    InvalidPayload,
    LicenseKeyRequired,
    MalformedAnswer,
    MalformedFile,
    MalformedRevocationList,
    NonceMismatch,
    NotYetValid,
    PinMismatch,
    Revoked,
    StaleAnswer,
    StaleRevocationList,
    UnknownKey,
    UnsupportedAlgorithm,
    VerificationError,
    WrongBusiness,
    WrongInstance,
    WrongLicenseKey,
    WrongLicenseType,
    WrongMode,
)
from .keys import PublicKey, check_signature, load_public_keys, verify_by_kid
from .payload import MACHINE, Licensee, LicensePayload, PlanInfo, SubscriptionRef, payload_from_dict
from .pins import check_license_pins, check_mode_argument
from .revocations import RevocationList, load_revocation_list
from .states import STATES, State, VerifiedPayload, state_of

__all__ = [
    "ALG_ENCRYPTED",
    "ALG_PLAIN",
    "ANSWER_PREFIX",
    "BEGIN",
    "END",
    "ENVELOPE_KEYS",
    "FORMAT_VERSION",
    "HKDF_INFO",
    "JWS_ALG",
    "LINE_WIDTH",
    "MACHINE",
    "NONCE_BYTES",
    "REVOCATIONS_PREFIX",
    "SIGNING_PREFIX",
    "STATES",
    "BadSignature",
    "DecryptionFailed",
    "Expired",
    "InvalidPayload",
    "LicenseKeyRequired",
    "LicensePayload",
    "Licensee",
    "MalformedAnswer",
    "MalformedFile",
    "MalformedRevocationList",
    "NonceMismatch",
    "NotYetValid",
    "PinMismatch",
    "PlanInfo",
    "PublicKey",
    "RevocationList",
    "Revoked",
    "SignedAnswer",
    "StaleAnswer",
    "StaleRevocationList",
    "State",
    "SubscriptionRef",
    "UnknownKey",
    "UnsupportedAlgorithm",
    "VerificationError",
    "VerifiedPayload",
    "WrongBusiness",
    "WrongInstance",
    "WrongLicenseKey",
    "WrongLicenseType",
    "WrongMode",
    "b64decode",
    "b64encode",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "check_signature",
    "decrypt",
    "file_key",
    "license_key_digest",
    "load_public_keys",
    "load_revocation_list",
    "parse_envelope",
    "payload_from_dict",
    "signing_input",
    "state_of",
    "verify_by_kid",
    "verify_license_file",
    "verify_signed_answer",
]


def verify_license_file(
    text: str | bytes,
    public_keys: Any,
    *,
    license_key: str | None = None,
    now: datetime | None = None,
    grace: timedelta = timedelta(0),
    check_times: bool = True,
    business_id: str | None = None,
    mode: str | None = "live",
    license_types: Iterable[str] | str | None = None,
    instance_id: str | None = None,
    fingerprint: str | None = None,
    revocations: RevocationList | None = None,
    allow_unnamed_keys: bool = False,
) -> VerifiedPayload:
    """Check the format, the key (`Revoked` when `revocations` names it), the signature
    by kid (a key given without a kid only with `allow_unnamed_keys`), decrypt if needed,
    then what the client pins: `business_id`, `mode` (live by default; None: any),
    `license_types`, and for a bound file its `instance_id` / `fingerprint`; then the
    license not revoked; then the validity window: `NotYetValid` before `starts_at`,
    `Expired` once `state_of(expires_at, grace, now)` is `expired`. The payload comes back
    with its `state`: `valid`, or `in_grace` between `expires_at` and `expires_at + grace`
    (the server's rule, `states.py`)."""
    check_mode_argument(mode)
    keys = load_public_keys(public_keys)
    envelope = parse_envelope(text)
    if revocations is not None and revocations.revokes_key(envelope["kid"]):
        raise Revoked(f"the file is signed by revoked key {envelope['kid']!r}")
    enc = b64decode(envelope["enc"], "the content")
    check_signature(envelope, enc, keys, allow_unnamed=allow_unnamed_keys)
    clear = decrypt(enc, envelope["alg"], license_key) if envelope["alg"] == ALG_ENCRYPTED else enc
    try:
        data = json.loads(clear.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload("the payload is not JSON") from exc
    payload = payload_from_dict(data, envelope["kid"])
    check_license_pins(
        payload,
        business_id=business_id,
        mode=mode,
        license_types=license_types,
        instance_id=instance_id,
        fingerprint=fingerprint,
    )
    if revocations is not None:
        if (revocations.business_id, revocations.mode) != (payload.business_id, payload.mode):
            raise WrongBusiness("the revocation list is of another business or mode")
        if revocations.revokes_license(payload.id):
            raise Revoked(f"license {payload.id} is revoked")
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    state = state_of(payload.expires_at, grace, moment)
    if check_times:
        if moment < payload.starts_at:
            raise NotYetValid(f"the license starts at {payload.starts_at.isoformat()}")
        if state == "expired":
            assert payload.expires_at is not None  # `expired` has an expiry
            raise Expired(f"the license expired at {payload.expires_at.isoformat()}")
    fields = {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
    return VerifiedPayload(**fields, state=state)
