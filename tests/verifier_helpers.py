"""License files, revocation lists and signed answers minted in-process for the verifier
tests (no server needed), in the formats the server writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensor import verifier as v
from licensor.license_desk.licensefile import encode
from licensor.signing.service import b64url

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": 1,
        "id": "dlc_test",
        "type": "legacy",
        "business_id": "bus_test",
        "mode": "live",
        "licensee": {"name": "Lee", "company": "Acme", "email": "lee@acme.test"},
        "plan": {"code": "premium", "name": "Premium", "features": ["sso", "audit"]},
        "users_count": 25,
        "starts_at": (NOW - timedelta(days=30)).isoformat(),
        "expires_at": (NOW + timedelta(days=335)).isoformat(),
        "issued_at": (NOW - timedelta(days=30)).isoformat(),
        "subscription": {"id": "sub_1", "external_id": "A-S0001", "name": "A-S0001"},
        "cloud_instance_id": None,
    }
    body.update(overrides)
    return body


def mint(
    key: Ed25519PrivateKey, kid: str = "sig_a", license_key: str | None = None, **overrides: Any
) -> str:
    return encode(payload(**overrides), kid, key.sign, license_key)


def _signed(key: Ed25519PrivateKey, kid: str, message: bytes) -> dict[str, str]:
    return {"kid": kid, "alg": "EdDSA", "signature": b64url(key.sign(message))}


def mint_revocations(
    key: Ed25519PrivateKey,
    kid: str = "sig_a",
    *,
    issued_at: datetime = NOW,
    next_update: datetime | None = None,
    revoked_kids: tuple[str, ...] = (),
    revoked_license_ids: tuple[str, ...] = (),
    **overrides: Any,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "version": 1,
        "business_id": "bus_test",
        "mode": "live",
        "issued_at": issued_at.isoformat(),
        "next_update": (next_update or issued_at + timedelta(days=1)).isoformat(),
        "revoked_kids": list(revoked_kids),
        "revoked_license_ids": list(revoked_license_ids),
        **overrides,
    }
    message = v.REVOCATIONS_PREFIX + v.canonical_json(statement)
    return {"revocations": statement, **_signed(key, kid, message)}


def mint_validate_answer(
    key: Ed25519PrivateKey,
    nonce: str,
    kid: str = "sig_a",
    license_key: str = "KEY-1",
    **overrides: Any,
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "business_id": "bus_test",
        "mode": "live",
        "issued_at": NOW.isoformat(timespec="seconds"),
        "license_key_id": "lic_1",
        "license_key_digest": v.license_key_digest(nonce, license_key),
        "license_key_instance_id": None,
        "product_id": "pdt_1",
        "nonce": nonce,
        "valid": True,
        "state": "active",
        **overrides,
    }
    message = v.ANSWER_PREFIX + v.canonical_json(answer)
    return {"valid": answer["valid"], "signed": {"answer": answer, **_signed(key, kid, message)}}
