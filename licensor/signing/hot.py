"""The hot paths' signer: the active signing key per business and mode, decrypted once
and kept for `LICENSOR_SIGNING_KEY_CACHE_SECONDS`, read with one raw query on the
process's hot connections (`kit/hotstore.py`). The check-in signs every answer with it,
`/licenses/validate` the answers asked with a nonce.

A key made, retired or revoked elsewhere is seen here within the cache's lifetime. The
first signature of a business and mode that has no key yet (one created before bootstrap
made keys) makes it, in a write transaction of its own (actor `system:checkin`)."""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensor.kit.context import AppContext
from licensor.kit.hotstore import HotDb, SqliteHot
from licensor.kit.origin import Origin, bind
from licensor.signing import service

ACTIVE_KEY = (
    "SELECT kid, private_key_encrypted FROM signing_keys "
    "WHERE business_id = {0} AND mode = {1} AND state = 'active'"
)
MAX_KEYS = 10_000


class HotSigner:
    def __init__(self, hot: HotDb, ctx: AppContext, ttl: float) -> None:
        self.hot = hot
        self.ctx = ctx
        self.ttl = ttl
        self._sql = hot.sql(ACTIVE_KEY)
        self._keys: dict[tuple[str, str], tuple[float, str, Ed25519PrivateKey]] = {}

    async def _find(self, business_id: str, mode: str) -> tuple[str, bytes] | None:
        if isinstance(self.hot, SqliteHot):
            r = self.hot.reader.execute(self._sql, (business_id, mode)).fetchone()
        else:
            r = await self.hot.pool.fetchrow(self._sql, business_id, mode)
        return None if r is None else (r[0], bytes(r[1]))

    async def key(
        self, business_id: str, mode: str, fresh: bool = False
    ) -> tuple[str, Ed25519PrivateKey]:
        """(kid, private key) of the active key, from the cache while it is fresh;
        `fresh`: read now, as a license file must be signed (the current kid at once)."""
        cached = self._keys.get((business_id, mode))
        now = time.monotonic()
        if not fresh and cached is not None and now - cached[0] < self.ttl:
            return cached[1], cached[2]
        found = await self._find(business_id, mode)
        if found is None:  # the first signature of this business and mode: make its key
            async with self.ctx.db.write_sessions() as session, session.begin():
                bind(session, Origin("system:checkin"))
                made = await service.current_key(session, self.ctx.vault, business_id, mode)
                found = (made.kid, made.private_key_encrypted)
        kid, blob = found
        private = Ed25519PrivateKey.from_private_bytes(
            base64.b64decode(self.ctx.vault.decrypt(blob, kid))
        )
        if len(self._keys) >= MAX_KEYS:
            self._keys.clear()
        self._keys[(business_id, mode)] = (now, kid, private)
        return kid, private

    async def sign(self, business_id: str, mode: str, message: bytes) -> tuple[str, bytes]:
        kid, private = await self.key(business_id, mode)
        return kid, private.sign(message)
