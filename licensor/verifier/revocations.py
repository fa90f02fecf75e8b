"""A business's signed, dated revocation list (docs/license-file-format.md, "Revocation
list"): the key ids it revoked and the license ids it revoked, for one mode."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .encoding import JWS_ALG, REVOCATIONS_PREFIX, b64url_decode, canonical_json, parse_time
from .errors import (
    MalformedRevocationList,
    NotYetValid,
    Revoked,
    StaleRevocationList,
    UnsupportedAlgorithm,
)
from .keys import load_public_keys, verify_by_kid
from .pins import MODES, check_issuer

DOCUMENT_KEYS = ("alg", "kid", "revocations", "signature")
STATEMENT_KEYS = (
    "business_id",
    "issued_at",
    "mode",
    "next_update",
    "revoked_kids",
    "revoked_license_ids",
    "version",
)
LEEWAY = timedelta(minutes=5)  # clock skew tolerated on `issued_at`


@dataclass(frozen=True)
class RevocationList:
    business_id: str
    mode: str
    issued_at: datetime
    next_update: datetime
    revoked_kids: frozenset[str]
    revoked_license_ids: frozenset[str]
    kid: str  # the key that signed it

    def revokes_key(self, kid: str) -> bool:
        return kid in self.revoked_kids

    def revokes_license(self, license_id: str) -> bool:
        return license_id in self.revoked_license_ids


def parse_document(source: Any, error: type[Exception]) -> Mapping[str, Any]:
    """A JSON object from text, bytes or a mapping; `error` when it is none."""
    if isinstance(source, bytes | str):
        try:
            source = json.loads(source)
        except (UnicodeDecodeError, ValueError) as exc:
            raise error("not JSON") from exc
    if not isinstance(source, Mapping):
        raise error("not a JSON object")
    return source


def _strings(statement: Mapping[str, Any], name: str) -> frozenset[str]:
    value = statement[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedRevocationList(f"{name} must be a list of strings")
    return frozenset(value)


def load_revocation_list(
    source: Any,
    public_keys: Any,
    *,
    business_id: str,
    mode: str = "live",
    now: datetime | None = None,
    check_times: bool = True,
    previous: RevocationList | None = None,
    allow_unnamed_keys: bool = False,
) -> RevocationList:
    """Check a revocation list (text, bytes or the parsed JSON) and return it.

    Refused: another shape (`MalformedRevocationList`), another business or mode
    (`WrongBusiness`, `WrongMode`), a signature that does not verify under the named key
    (`UnknownKey`, `BadSignature`), a list signed by a key it or `previous` revokes
    (`Revoked`), one issued in the future (`NotYetValid`), one past its `next_update`
    (`StaleRevocationList`, unless `check_times=False`: an offline client keeps using
    the newest it has), one older than `previous` (`StaleRevocationList`, always: a
    list cannot be rolled back). Keys revoked in `previous` stay revoked."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'test' or 'live', not {mode!r}")
    doc = parse_document(source, MalformedRevocationList)
    if tuple(sorted(doc)) != DOCUMENT_KEYS:
        raise MalformedRevocationList(f"a revocation list holds exactly {', '.join(DOCUMENT_KEYS)}")
    statement, kid = doc["revocations"], doc["kid"]
    if not isinstance(statement, Mapping) or tuple(sorted(statement)) != STATEMENT_KEYS:
        raise MalformedRevocationList(f"revocations holds exactly {', '.join(STATEMENT_KEYS)}")
    if doc["alg"] != JWS_ALG:
        raise UnsupportedAlgorithm(f"unsupported algorithm {doc['alg']!r}")
    if statement["version"] != 1 or isinstance(statement["version"], bool):
        raise UnsupportedAlgorithm(f"unsupported revocation list version {statement['version']!r}")
    if not isinstance(kid, str) or not isinstance(doc["signature"], str):
        raise MalformedRevocationList("kid and signature must be strings")
    if previous is not None and previous.revokes_key(kid):
        raise Revoked(f"the revocation list is signed by revoked key {kid!r}")
    try:
        signature = b64url_decode(doc["signature"])
    except ValueError as exc:
        raise MalformedRevocationList("the signature is not base64url") from exc
    keys = load_public_keys(public_keys)
    message = REVOCATIONS_PREFIX + canonical_json(statement)
    verify_by_kid(kid, signature, message, keys, allow_unnamed=allow_unnamed_keys)
    for name in ("business_id", "mode"):
        if not isinstance(statement[name], str):
            raise MalformedRevocationList(f"{name} must be a string")
    check_issuer(statement["business_id"], statement["mode"], business_id, mode, "the list")
    try:
        issued_at, next_update = (parse_time(statement[n]) for n in ("issued_at", "next_update"))
    except ValueError as exc:
        raise MalformedRevocationList("issued_at and next_update are ISO 8601 times") from exc
    kids, licenses = _strings(statement, "revoked_kids"), _strings(statement, "revoked_license_ids")
    if kid in kids:
        raise Revoked(f"the revocation list is signed by a key it revokes ({kid!r})")
    if previous is not None:
        if issued_at < previous.issued_at:
            raise StaleRevocationList(
                f"the list was issued at {issued_at.isoformat()}, before the one held "
                f"({previous.issued_at.isoformat()})"
            )
        if (previous.business_id, previous.mode) == (business_id, mode):
            kids |= previous.revoked_kids
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if issued_at > moment + LEEWAY:
        raise NotYetValid(f"the revocation list is dated {issued_at.isoformat()}")
    if check_times and moment > next_update:
        raise StaleRevocationList(f"the revocation list expired at {next_update.isoformat()}")
    return RevocationList(
        business_id=business_id,
        mode=mode,
        issued_at=issued_at,
        next_update=next_update,
        revoked_kids=kids,
        revoked_license_ids=licenses,
        kid=kid,
    )
