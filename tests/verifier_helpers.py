"""License files minted in-process for the verifier tests (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensor.license_desk.licensefile import encode

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": 1,
        "id": "dlc_test",
        "type": "legacy",
        "business_id": "bus_test",
        "mode": "test",
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
