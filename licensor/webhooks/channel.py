"""Webhook deliveries as a channel of the one delivery worker (`delivery/worker.py`).

The outbox rules are the email outbox's (`kit/outbox.py`): a delivery is claimed in a
short write transaction under a lease, sent outside any transaction, and its outcome
recorded only by the claim's holder; a worker killed mid-attempt leaves it `sending`
until the lease runs out, and then it is sent again (same `webhook-id`, so receivers can
drop the duplicate). Here besides:
- an endpoint's `rate_limit` (deliveries per second) is counted on its row, in the claim
  transaction, so it holds across workers; a delivery over it waits for the next second;
- a 2xx is success; `410 Gone` fails the delivery and disables the endpoint; any other
  answer or error is retried with back-off (6 s, times 4 each time, up to 6 h: ~1 day over
  11 attempts); an address refused by the SSRF check fails the delivery at once;
- an endpoint whose attempts have all failed for `webhooks_disable_after_seconds`
  (5 days) is disabled, and `webhook_endpoint.disabled` is emitted (and audited).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit import outbox
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.ids import new_id
from licensor.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from licensor.webhooks import service
from licensor.webhooks.events import ENDPOINT_DISABLED, emit
from licensor.webhooks.sender import Outcome, Sender, signed_headers

log = logging.getLogger("licensor.webhooks")

CLAIM_SCAN = 20  # deliveries looked at per claim (disabled or rate-limited ones are skipped)
WORKER = "system:webhook_worker"  # the audit log's actor of an endpoint it disables


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: str
    endpoint_id: str
    token: str
    attempts: int
    max_attempts: int
    url: str
    headers: dict[str, str]
    body: str


class WebhookChannel:
    def __init__(self, ctx: AppContext, name: str) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.name = name
        self.sender = Sender(
            self.settings.webhooks_timeout_seconds, self.settings.webhooks_allow_private
        )

    async def close(self) -> None:
        await self.sender.close()

    def backoff(self, attempts: int) -> timedelta:
        s = self.settings
        return outbox.backoff(
            s.webhooks_retry_base_seconds, 4, s.webhooks_retry_max_seconds, attempts
        )

    async def claim(self) -> Claimed | None:
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"[:80]
        lease = timedelta(seconds=self.settings.webhooks_lease_seconds)
        vault = self.ctx.vault
        async with self.ctx.db.write_sessions() as session, session.begin():
            now = utcnow()
            await outbox.fail_exhausted(session, WebhookDelivery, now)
            for _ in range(CLAIM_SCAN):
                job_id = await outbox.next_due(session, WebhookDelivery, now)
                if job_id is None:
                    return None
                job = await session.get(WebhookDelivery, job_id)
                assert job is not None
                endpoint = await session.get(WebhookEndpoint, job.endpoint_id, with_for_update=True)
                if endpoint is None or endpoint.disabled:
                    job.status, job.last_error = "failed", "the endpoint is disabled"
                    job.locked_until = job.locked_by = None
                    continue
                if not self._admit(endpoint, job, now):
                    continue
                taken: WebhookDelivery = await outbox.take(
                    session, WebhookDelivery, job_id, now, lease, token
                )
                body = vault.decrypt(taken.payload_encrypted, taken.id)
                headers = signed_headers(
                    service.signing_secrets(vault, endpoint, now),
                    taken.event_id,
                    now,
                    body,
                    service.custom_headers(vault, endpoint),
                )
                return Claimed(
                    taken.id,
                    endpoint.id,
                    token,
                    taken.attempts,
                    taken.max_attempts,
                    endpoint.url,
                    headers,
                    body,
                )
        return None

    @staticmethod
    def _admit(endpoint: WebhookEndpoint, job: WebhookDelivery, now: datetime) -> bool:
        """Count the delivery against the endpoint's rate limit (per second), or defer it."""
        if not endpoint.rate_limit:
            return True
        second = int(now.timestamp())
        if endpoint.rate_window != second:
            endpoint.rate_window, endpoint.rate_count = second, 0
        if endpoint.rate_count >= endpoint.rate_limit:
            job.next_attempt_at = datetime.fromtimestamp(second + 1, UTC)
            return False
        endpoint.rate_count += 1
        return True

    async def deliver(self, claimed: Claimed) -> None:
        outcome = await self.sender.send(claimed.url, claimed.headers, claimed.body)
        now = utcnow()
        async with self.ctx.db.write_sessions() as session, session.begin():
            session.add(
                WebhookAttempt(
                    id=new_id("wha"),
                    delivery_id=claimed.delivery_id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                    response_body=outcome.response_body,
                )
            )
            await self._record(session, claimed, outcome, now)

    async def _record(
        self, session: AsyncSession, claimed: Claimed, outcome: Outcome, now: datetime
    ) -> None:
        if outcome.ok:
            if await outbox.mark_done(
                session,
                WebhookDelivery,
                claimed.delivery_id,
                claimed.token,
                now,
                last_status_code=outcome.status_code,
            ):
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == claimed.endpoint_id)
                    .values(failing_since=None)
                )
            else:
                log.warning("webhook delivery %s was sent after its lease", claimed.delivery_id)
            return
        gone = outcome.status_code == 410
        retry_at = None
        if not gone and not outcome.refused and claimed.attempts < claimed.max_attempts:
            retry_at = now + self.backoff(claimed.attempts)
        error = outcome.error or "failed"
        log.warning(
            "webhook delivery %s attempt %d: %s", claimed.delivery_id, claimed.attempts, error
        )
        if not await outbox.mark_failed_attempt(
            session,
            WebhookDelivery,
            claimed.delivery_id,
            claimed.token,
            now,
            error,
            retry_at,
            last_status_code=outcome.status_code,
        ):
            return
        endpoint = await session.get(WebhookEndpoint, claimed.endpoint_id, with_for_update=True)
        if endpoint is None or endpoint.disabled:
            return
        if gone:
            await self._disable(session, endpoint, "the endpoint answered 410 Gone", now)
            return
        endpoint.failing_since = endpoint.failing_since or now
        limit = timedelta(seconds=self.settings.webhooks_disable_after_seconds)
        if now - endpoint.failing_since >= limit:
            await self._disable(session, endpoint, "every attempt failed for too long", now)

    async def _disable(
        self, session: AsyncSession, endpoint: WebhookEndpoint, reason: str, now: datetime
    ) -> None:
        endpoint.disabled = True
        endpoint.disabled_reason = reason
        endpoint.updated_at = now
        await session.flush()
        off = audit.changes_of({"disabled": (False, True)})
        audit.event(session, endpoint, "webhook_endpoint.disabled", off, note=reason, actor=WORKER)
        data = {**service.to_out(endpoint).model_dump(mode="json"), "reason": reason}
        await emit(session, endpoint.business_id, endpoint.mode, ENDPOINT_DISABLED, data)
        log.warning("webhook %s disabled: %s", endpoint.id, reason)

    async def run_once(self) -> int:
        """Deliver every delivery due now, up to `webhooks_concurrency` at a time."""
        done = 0
        while True:
            batch = []
            for _ in range(self.settings.webhooks_concurrency):
                claimed = await self.claim()
                if claimed is None:
                    break
                batch.append(claimed)
            if not batch:
                return done
            await asyncio.gather(*(self.deliver(c) for c in batch))
            done += len(batch)
