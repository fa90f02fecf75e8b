"""Offline verification of Licensor license files.

Self-contained: imports only the standard library and `cryptography`, so client
software can import it from the package or copy this one folder (`verifier/`). The format is
documented in docs/license-file-format.md.

    payload = verify_license_file(text, load_public_keys(jwks_dict), grace=timedelta(days=14))

Every failure raises a subclass of `VerificationError`. The parser is strict: the
file must be exactly as Licensor wrote it (LF line ends, canonical base64, compact
JSON envelope), so that changing any byte of it makes verification fail.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .encoding import (
    ALG_ENCRYPTED,
    ALG_PLAIN,
    BEGIN,
    END,
    ENVELOPE_KEYS,
    FORMAT_VERSION,
    HKDF_INFO,
    LINE_WIDTH,
    NONCE_BYTES,
    SIGNING_PREFIX,
    b64decode,
    b64encode,
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
    MalformedFile,
    NotYetValid,
    UnknownKey,
    UnsupportedAlgorithm,
    VerificationError,
)
from .keys import PublicKey, check_signature, load_public_keys
from .payload import Licensee, LicensePayload, PlanInfo, SubscriptionRef, payload_from_dict
from .states import STATES, State, VerifiedPayload, state_of

__all__ = [
    "ALG_ENCRYPTED",
    "ALG_PLAIN",
    "BEGIN",
    "END",
    "ENVELOPE_KEYS",
    "FORMAT_VERSION",
    "HKDF_INFO",
    "LINE_WIDTH",
    "NONCE_BYTES",
    "SIGNING_PREFIX",
    "STATES",
    "BadSignature",
    "DecryptionFailed",
    "Expired",
    "InvalidPayload",
    "LicenseKeyRequired",
    "LicensePayload",
    "Licensee",
    "MalformedFile",
    "NotYetValid",
    "PlanInfo",
    "PublicKey",
    "State",
    "SubscriptionRef",
    "UnknownKey",
    "UnsupportedAlgorithm",
    "VerificationError",
    "VerifiedPayload",
    "b64decode",
    "b64encode",
    "canonical_json",
    "check_signature",
    "decrypt",
    "file_key",
    "load_public_keys",
    "parse_envelope",
    "payload_from_dict",
    "signing_input",
    "state_of",
    "verify_license_file",
]


def verify_license_file(
    text: str | bytes,
    public_keys: Any,
    *,
    license_key: str | None = None,
    now: datetime | None = None,
    grace: timedelta = timedelta(0),
    check_times: bool = True,
) -> VerifiedPayload:
    """Check the format, the signature (by kid), decrypt if needed, then the validity
    window: `NotYetValid` before `starts_at`, `Expired` once `state_of(expires_at, grace,
    now)` is `expired`. The payload comes back with its `state`: `valid`, or `in_grace`
    between `expires_at` and `expires_at + grace` (the server's rule, `states.py`)."""
    keys = load_public_keys(public_keys)
    envelope = parse_envelope(text)
    enc = b64decode(envelope["enc"], "the content")
    check_signature(envelope, enc, keys)
    clear = decrypt(enc, envelope["alg"], license_key) if envelope["alg"] == ALG_ENCRYPTED else enc
    try:
        data = json.loads(clear.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload("the payload is not JSON") from exc
    payload = payload_from_dict(data, envelope["kid"])
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    state = state_of(payload.expires_at, grace, moment)
    if check_times:
        if moment < payload.starts_at:
            raise NotYetValid(f"the license starts at {payload.starts_at.isoformat()}")
        if state == "expired":
            raise Expired(f"the license expired at {payload.expires_at.isoformat()}")
    fields = {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
    return VerifiedPayload(**fields, state=state)
