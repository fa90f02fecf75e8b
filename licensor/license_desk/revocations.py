"""A business's revocation list for one mode: signed, dated, public
(`GET /.well-known/licensor/{business_id}/revocations.json`), for the offline verifier's
`load_revocation_list` (docs/license-file-format.md, "Revocation list").

It lists exactly:
- `revoked_kids`: the business's revoked signing keys of the mode (`signing`);
- `revoked_license_ids`: its disabled license keys of the mode (`lic_…`, `license_key`).
  Desk licenses (`dlc_…`) have no revocation, so none is listed; a desk license's term
  ends at its `expires_at`.

Signed by the active key over `REVOCATIONS_PREFIX || canonical JSON of revocations`;
never makes a key (a GET): a business without an active key is `404 SIGNING_KEY_NOT_FOUND`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from licensor import verifier as fmt
from licensor.kit.secrets import Vault
from licensor.license_key import service as license_keys
from licensor.signing import service as signing
from licensor.signing.errors import SigningKeyNotFound

VERSION = 1


async def revocation_list(
    session: AsyncSession,
    vault: Vault,
    business_id: str,
    mode: str,
    now: datetime,
    lifetime: timedelta,
) -> dict[str, Any]:
    key = await signing.active_key(session, business_id, mode)
    if key is None:
        raise SigningKeyNotFound(f"business {business_id} has no {mode} signing key yet")
    issued = now.replace(microsecond=0)
    statement = {
        "version": VERSION,
        "business_id": business_id,
        "mode": mode,
        "issued_at": issued.isoformat(),
        "next_update": (issued + lifetime).isoformat(),
        "revoked_kids": await signing.revoked_kids(session, business_id, mode),
        "revoked_license_ids": await license_keys.disabled_key_ids(session, business_id, mode),
    }
    signed = signing.signed_statement(vault, key, fmt.REVOCATIONS_PREFIX, statement)
    return {"revocations": statement, **signed}
