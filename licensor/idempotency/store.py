"""The database store of `kit/idempotency.py`'s layer: it owns its short transactions.

Each step is its own write transaction, outside the request's: the claim (committed
before the request runs, so every process on the database sees it), then the answer
(or the release). See docs/events.md, "Idempotency".
"""

from __future__ import annotations

import logging
from datetime import timedelta

from starlette.types import Scope

from licensor.auth.dependencies import identify
from licensor.idempotency import service
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.deps import writing
from licensor.kit.idempotency import Answer, Claim

log = logging.getLogger("licensor")


class IdempotencyKeys:
    """Claims, answers and releases idempotency keys; `ctx` is set by the app's lifespan."""

    def __init__(self, lease_seconds: float, retention_hours: int) -> None:
        self.terms = service.Terms(
            lease=timedelta(seconds=lease_seconds), retention=timedelta(hours=retention_hours)
        )
        self.ctx: AppContext | None = None

    def _context(self) -> AppContext:
        if self.ctx is None:
            raise RuntimeError("the idempotency store is used before the app started")
        return self.ctx

    async def claim(self, scope: Scope, key: str, fingerprint: bytes) -> Claim | Answer | None:
        ctx = self._context()
        principal = await identify(ctx, scope)
        if principal is None:  # the app refuses it (401): nothing to keep
            return None
        key_hash = ctx.vault.lookup_hash(service.check_key(key), service.KEY_PURPOSE)
        async with writing(ctx.db) as session:
            return await service.claim(
                session, ctx.vault, principal, key_hash, fingerprint, self.terms, utcnow()
            )

    async def complete(self, claim: Claim, answer: Answer) -> None:
        ctx = self._context()
        async with writing(ctx.db) as session:
            kept = await service.complete(session, ctx.vault, claim, answer, utcnow())
        if not kept:  # ran past its lease and a retry took the key over
            log.warning("idempotency key %s: answered after its lease was taken", claim.row_id)

    async def release(self, claim: Claim) -> None:
        async with writing(self._context().db) as session:
            await service.release(session, claim)
