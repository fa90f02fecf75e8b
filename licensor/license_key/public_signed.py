"""The signed answer of `POST /licenses/validate` asked with a `nonce` (Licensor's own):
the answer, a statement of it (the nonce, the key's id and digest, the instance, the
server time, valid and state), and the Ed25519 signature of the business's active key.

Only these answers sign: without a nonce the check stays the lean `LicenseChecks.check`.
A key unknown to the face (no such key, the other mode, another product) has no
business to sign for: its answer is `{"valid": false}` alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from licensor.license_key.keys import status_of
from licensor.license_key.store import KeyRow
from licensor.verifier import (
    ANSWER_PREFIX,
    JWS_ALG,
    b64url_encode,
    canonical_json,
    license_key_digest,
)

UNSIGNED_INVALID: dict[str, Any] = {"valid": False}


class AnswerSigner(Protocol):
    """Signs with the business's active key for the mode: (kid, signature)."""

    async def sign(self, business_id: str, mode: str, message: bytes) -> tuple[str, bytes]: ...


def state_of(row: KeyRow, now: datetime, has_instance: bool | None) -> str:
    """`active`, `disabled`, `expired`, or `instance_not_found` (an active key asked about
    an instance that is not one of its own)."""
    state = status_of(row.disabled, row.expires_at, now)
    if state == "active" and has_instance is False:
        return "instance_not_found"
    return state


async def signed_answer(
    signer: AnswerSigner,
    row: KeyRow,
    *,
    license_key: str,
    instance_id: str | None,
    nonce: str,
    state: str,
    now: datetime,
) -> dict[str, Any]:
    valid = state == "active"
    statement = {
        "business_id": row.business_id,
        "mode": row.mode,
        "issued_at": now.isoformat(timespec="seconds"),
        "license_key_id": row.id,
        "license_key_digest": license_key_digest(nonce, license_key),
        "license_key_instance_id": instance_id,
        "product_id": row.product_id,
        "nonce": nonce,
        "valid": valid,
        "state": state,
    }
    message = ANSWER_PREFIX + canonical_json(statement)
    kid, signature = await signer.sign(row.business_id, row.mode, message)
    signed = {
        "answer": statement,
        "kid": kid,
        "alg": JWS_ALG,
        "signature": b64url_encode(signature),
    }
    return {"valid": valid, "signed": signed}
