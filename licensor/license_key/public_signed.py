"""The signed answer of `POST /licenses/validate` asked with a `nonce` (Licensor's own):
the answer, a statement of it (the nonce, the key's id and digest, the instance, the
server time, valid and state), and the Ed25519 signature of the business's active key.

Only these answers sign: without a nonce the check stays the lean `LicenseChecks.check`.
A key unknown to the face (no such key, the other mode, another product) has no
business to sign for: its answer is `{"valid": false}` alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from licensor.license_key.hot_sql import KeyRow
from licensor.license_key.machines import Verdict
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


async def signed_answer(
    signer: AnswerSigner,
    row: KeyRow,
    *,
    license_key: str,
    instance_id: str | None,
    nonce: str,
    fingerprint: str | None = None,
    verdict: Verdict,
    now: datetime,
) -> dict[str, Any]:
    """The unsigned answer (`valid`, `state`, `code`: as without a nonce) and `signed`: the
    statement of it, signed. `state` is the key's (`valid`, `in_grace`, `expired`,
    `disabled`); an instance or machine that holds no seat makes `valid` false. A
    `fingerprint` sent is echoed as sent, so the client can pin its machine."""
    valid = verdict.valid
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
        "state": verdict.state,
    }
    if fingerprint is not None:
        statement["fingerprint"] = fingerprint
    message = ANSWER_PREFIX + canonical_json(statement)
    kid, signature = await signer.sign(row.business_id, row.mode, message)
    signed = {
        "answer": statement,
        "kid": kid,
        "alg": JWS_ALG,
        "signature": b64url_encode(signature),
    }
    return {**verdict.public(), "signed": signed}
