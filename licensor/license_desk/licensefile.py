"""Writing license files: the payload of a license, signed with the business's current
Ed25519 key (licensor/signing), optionally encrypted under its license key. The format
constants live in `licensor.verifier`, so the writer and the reader cannot drift."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession

from licensor import verifier as fmt
from licensor.kit.errors import Conflict
from licensor.kit.secrets import Vault
from licensor.models import CloudInstance, DeskLicense
from licensor.signing import service as signing


def payload_of(row: DeskLicense, instance_id: str | None = None) -> dict[str, Any]:
    """The signed fields of a license; `instance_id`: an online cloud license's instance's
    own id, as it sent it (docs/license-file-format.md, section 5)."""
    subscription = None
    if row.subscription_id is not None:
        subscription = {
            "id": row.subscription_id,
            "external_id": row.subscription_external_id,
            "name": row.subscription_name,
        }
    return {
        "version": fmt.FORMAT_VERSION,
        "id": row.id,
        "type": row.license_type,
        "business_id": row.business_id,
        "mode": row.mode,
        "licensee": {
            "name": row.licensee_name,
            "company": row.licensee_company,
            "email": row.licensee_email,
        },
        "plan": {"code": row.plan_code, "name": row.plan_name, "features": row.plan_features},
        "users_count": row.users_count,
        "starts_at": row.starts_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "issued_at": row.created_at.isoformat(),
        "subscription": subscription,
        "cloud_instance_id": row.cloud_instance_id,
        "instance_id": instance_id,
    }


def canonical_json(value: Any) -> bytes:
    """The verifier's canonical JSON (sorted keys, no whitespace, UTF-8, `ensure_ascii=False`)
    at orjson's speed: the same bytes for every payload a license file holds (text, integers,
    booleans, null, lists and objects; no floats), which tests/test_verifier.py checks by
    property against `verifier.canonical_json`."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def encode(
    payload: dict[str, Any],
    kid: str,
    sign: Callable[[bytes], bytes],
    license_key: str | None = None,
) -> str:
    """The file text: canonical payload (encrypted when a license key is given), signed."""
    enc = canonical_json(payload)
    alg = fmt.ALG_PLAIN
    if license_key is not None:
        alg = fmt.ALG_ENCRYPTED
        nonce = os.urandom(fmt.NONCE_BYTES)
        enc = nonce + AESGCM(fmt.file_key(license_key)).encrypt(nonce, enc, alg.encode())
    signature = sign(fmt.signing_input(alg, enc))
    envelope = {
        "v": fmt.FORMAT_VERSION,
        "alg": alg,
        "kid": kid,
        "enc": fmt.b64encode(enc),
        "sig": fmt.b64encode(signature),
    }
    body = fmt.b64encode(canonical_json(envelope))
    lines = [body[i : i + fmt.LINE_WIDTH] for i in range(0, len(body), fmt.LINE_WIDTH)]
    return "\n".join([fmt.BEGIN, *lines, fmt.END]) + "\n"


async def render(
    session: AsyncSession, vault: Vault, row: DeskLicense, *, encrypt: bool = False
) -> str:
    key = await signing.current_key(session, vault, row.business_id, row.mode)
    license_key = vault.decrypt(row.key_encrypted, row.id) if encrypt else None

    def sign(message: bytes) -> bytes:
        return signing.sign_with(vault, key, message).signature

    instance_id = None
    if row.cloud_instance_id is not None:
        instance = await session.get(CloudInstance, row.cloud_instance_id)
        instance_id = instance.instance_id if instance is not None else None
    return encode(payload_of(row, instance_id), key.kid, sign, license_key)


async def license_file(
    session: AsyncSession, vault: Vault, row: DeskLicense, *, encrypt: bool = False
) -> str:
    """The file a person downloads or is mailed. An online cloud license has none: the
    instance receives it by cloud activation (`cloud_service`, which calls `render`)."""
    if row.license_type == "online_cloud":
        raise Conflict(
            "online cloud licenses are delivered to the instance by cloud activation",
            code="LICENSE_FILE_NOT_AVAILABLE",
        )
    return await render(session, vault, row, encrypt=encrypt)
