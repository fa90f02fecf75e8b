"""The delivery worker: claims due jobs from the outbox under a lease and sends them.

Two channels: license emails over SMTP (this module; when SMTP is configured) and webhook
deliveries over HTTP (`webhooks/channel.py`, with the sweeps), each in its own loop so a
slow endpoint never holds up mail (both: the outbox's lease queries, `kit/outbox.py`),
and a third loop, the audit sealer (`audit/sealer.py`, every LICENSOR_AUDIT_SEAL_SECONDS).

Runs inside `licensor serve` (a background task of the app lifespan) or alone as
`licensor worker`; any number of them may run on one database. Each job is claimed in
its own short write transaction, sent over SMTP outside any transaction, and its
outcome recorded only if this worker still holds the claim. A worker that dies leaves
the job `sending` until its lease runs out; then another worker sends it again, with
the same Message-ID, so a duplicate is recognisable as the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

import aiosmtplib
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import sealer
from licensor.audit import service as audit
from licensor.config import Settings
from licensor.delivery import repository
from licensor.delivery.render import Letter, Sender, build_message
from licensor.delivery.service import decrypt_payload
from licensor.kit import outbox
from licensor.kit.addresses import AddressError, domain_in, split_address
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.origin import Origin, bind
from licensor.license_key import seats
from licensor.license_key import service as license_key_service
from licensor.models import Business, EmailJob
from licensor.webhooks.channel import WebhookChannel
from licensor.webhooks.events import EMAIL_FAILED, emit

log = logging.getLogger("licensor.delivery")

# How often a worker sweeps: expired keys, silent floating seats, spent air-gapped requests.
SWEEP_SECONDS = 10.0


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential: base, 2·base, 4·base … capped at the maximum."""
    return outbox.backoff(
        settings.mail_retry_base_seconds, 2, settings.mail_retry_max_seconds, attempts
    )


class PlaintextAuthRefused(Exception):
    """The relay needs a password and the connection has no TLS: nothing is sent."""

    def __str__(self) -> str:
        return (
            "refused to send the SMTP password without TLS: set LICENSOR_SMTP_TLS to "
            "starttls or tls (or LICENSOR_SMTP_ALLOW_PLAINTEXT_AUTH=true to accept the risk)"
        )


async def smtp_send(settings: Settings, message: object, sender: str, recipient: str) -> None:
    if settings.smtp_auth_refused:  # before connecting: the password never leaves
        raise PlaintextAuthRefused()
    await aiosmtplib.send(
        message,  # type: ignore[arg-type]
        sender=sender,
        recipients=[recipient],
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        cert_bundle=settings.smtp_ca_file or None,
        timeout=settings.smtp_timeout,
    )


def _codes(exc: BaseException) -> list[int]:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return [r.code for r in exc.recipients]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return [exc.code]
    return []


def is_permanent(exc: BaseException) -> bool:
    """A 5xx reply (to every recipient) or a refusal by configuration: retrying cannot help."""
    if isinstance(exc, PlaintextAuthRefused):
        return True
    codes = _codes(exc)
    return bool(codes) and all(500 <= code < 600 for code in codes)


def describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"SMTP {r.code}: {r.message}" for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code}: {exc.message}"
    if isinstance(exc, PlaintextAuthRefused):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "SMTP timeout"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def failed_data(job: EmailJob, error: str) -> dict[str, object]:
    """The `email.delivery_failed` payload: the job as the delivery log shows it."""
    return {
        "id": job.id,
        "license_id": job.license_id,
        "kind": job.kind,
        "recipient": job.recipient,
        "message_id": job.message_id,
        "attempts": job.attempts,
        "last_error": error,
    }


WORKER = Origin("system:mail_worker")
REAPER = Origin("system:seat_reaper")
Batch = Callable[[AsyncSession, datetime], Awaitable[int]]  # a sweep's step: how many rows


class Outcome(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def business_id(self) -> str: ...
    @property
    def mode(self) -> str: ...


def outcome(
    session: AsyncSession, job: Outcome, action: str, status: str, error: str | None
) -> None:
    """The audit event of a delivery attempt's outcome, in the outcome's transaction."""
    changes: dict[str, object] = {"status": {"old": "sending", "new": status}}
    if error is not None:
        changes["last_error"] = {"old": None, "new": error[:2000]}
    audit.record(
        session,
        business_id=job.business_id,
        mode=job.mode,
        action=action,
        target_type="delivery",
        target_id=job.id,
        changes=changes,
    )


class Worker:
    """`mail`: send email (default: when SMTP is configured); `webhooks`: deliver webhooks."""

    def __init__(
        self,
        ctx: AppContext,
        name: str | None = None,
        *,
        mail: bool | None = None,
        webhooks: bool = True,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.mail = ctx.settings.smtp_configured if mail is None else mail
        self.webhooks = WebhookChannel(ctx, self.name) if webhooks else None
        self._swept_at = -SWEEP_SECONDS  # the first pass sweeps

    async def close(self) -> None:
        if self.webhooks is not None:
            await self.webhooks.close()

    async def _claim(self) -> tuple[EmailJob, str] | None:
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"[:80]
        lease = timedelta(seconds=self.settings.mail_lease_seconds)
        async with self.ctx.db.write_sessions() as session, session.begin():
            bind(session, WORKER)
            now = utcnow()
            for job_id in await repository.fail_exhausted(session, now):
                lost = await session.get(EmailJob, job_id)
                if lost is not None:
                    outcome(session, lost, "delivery.failed", "failed", "the worker stopped")
                    data = failed_data(lost, lost.last_error or "the worker stopped")
                    await emit(session, lost.business_id, lost.mode, EMAIL_FAILED, data)
            job = await repository.claim_one(session, now, lease, token)
            return (job, token) if job is not None else None

    def _sender_allowed(self, address: str) -> bool:
        try:
            _, domain = split_address(address)
        except AddressError:
            return False
        return domain_in(domain, self.settings.sender_domains)

    async def _sender(self, job: EmailJob) -> Sender:
        """From: and envelope sender: the tenant's address only at a domain the operator
        allows (LICENSOR_MAIL_SENDER_DOMAINS); otherwise the operator's LICENSOR_MAIL_FROM
        sends, and the tenant's address (its reply-to, else its sender) is the Reply-To."""
        async with self.ctx.db.read_sessions() as session:
            business = await session.get(Business, job.business_id)
            prefs = await repository.mail_settings(session, job.business_id, job.mode)
        business_name = business.name if business else ""
        own = self.settings.mail_from
        wanted = prefs.sender_email if prefs and prefs.sender_email else None
        reply_to = prefs.reply_to if prefs else None
        sender = own
        if wanted and self._sender_allowed(wanted):
            sender = wanted
        elif wanted:
            reply_to = reply_to or wanted
        return Sender(
            name=(prefs.sender_name if prefs and prefs.sender_name else business_name),
            email=sender,
            reply_to=reply_to,
            footer=prefs.footer if prefs else None,
            business_name=business_name,
        )

    async def _deliver(self, job: EmailJob, token: str) -> None:
        try:
            context, attachments = decrypt_payload(self.ctx.vault, job)
            sender = await self._sender(job)
            letter = Letter(
                job.id, job.message_id, job.template, job.recipient, context, attachments
            )
            message = build_message(letter, sender, job.created_at)
            # The whole attempt ends well within the lease, so no other worker takes the
            # job while this one may still be talking to the SMTP server.
            async with asyncio.timeout(max(1.0, self.settings.mail_lease_seconds * 0.75)):
                await smtp_send(self.settings, message, sender.email, job.recipient)
        except Exception as exc:  # every failure is recorded on the job, never lost
            await self._record_failure(job, token, describe(exc), permanent=is_permanent(exc))
            return
        async with self.ctx.db.write_sessions() as session, session.begin():
            bind(session, WORKER)
            if not await repository.mark_sent(session, job.id, token, utcnow()):
                log.warning("delivery %s was sent after its lease ran out", job.id)
            else:
                outcome(session, job, "delivery.sent", "sent", None)

    async def _record_failure(
        self, job: EmailJob, token: str, error: str, *, permanent: bool
    ) -> None:
        """A temporary failure is retried after a backoff; a permanent one (5xx) fails the
        job at once, the server's reply kept as its last error."""
        now = utcnow()
        retry_at: datetime | None = None
        if not permanent and job.attempts < job.max_attempts:
            retry_at = now + backoff(self.settings, job.attempts)
        log.warning("delivery %s attempt %d failed: %s", job.id, job.attempts, error)
        async with self.ctx.db.write_sessions() as session, session.begin():
            bind(session, WORKER)
            marked = await repository.mark_failed_attempt(
                session, job.id, token, now, error, retry_at
            )
            if marked and retry_at is None:  # failed for good: the log and the webhooks
                outcome(session, job, "delivery.failed", "failed", error)
                await emit(
                    session, job.business_id, job.mode, EMAIL_FAILED, failed_data(job, error)
                )
            elif marked:
                outcome(session, job, "delivery.retry_scheduled", "queued", error)

    async def mail_once(self) -> int:
        """Send every email due now; the number of attempts made."""
        done = 0
        while (claimed := await self._claim()) is not None:
            await self._deliver(*claimed)
            done += 1
        return done

    async def webhooks_once(self) -> int:
        """The sweeps (expired keys, silent floating seats, spent air-gapped requests),
        then every webhook delivery due now."""
        if self.webhooks is None:
            return 0
        if time.monotonic() - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = time.monotonic()
            await self.in_batches(license_key_service.announce_expired)  # since the last sweep
            await self.in_batches(seats.reap_silent, REAPER)
            await self.in_batches(license_key_service.prune_activation_requests)
        return await self.webhooks.run_once()

    async def in_batches(self, step: Batch, origin: Origin | None = None) -> int:
        """A sweep's `step` (as `origin`), one short transaction a batch, until a batch does
        nothing; how many rows in all."""
        total = 0
        while True:
            async with self.ctx.db.write_sessions() as session, session.begin():
                if origin is not None:
                    bind(session, origin)
                done = await step(session, utcnow())
            total += done
            if not done:
                return total

    async def run_once(self) -> int:
        """Deliver every job due now (both channels); the number of attempts made."""
        done = await self.mail_once() if self.mail else 0
        return done + await self.webhooks_once()

    async def _loop(self, once: Callable[[], Awaitable[int]], stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await once()
            except Exception:  # the database went away for a moment: try again later
                log.exception("delivery worker pass failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.mail_poll_seconds)

    async def run_forever(self, stop: asyncio.Event) -> None:
        loops = [sealer.run_forever(self.ctx.db, self.settings.audit_seal_seconds, stop)]
        if self.mail:
            loops.append(self._loop(self.mail_once, stop))
        if self.webhooks is not None:
            loops.append(self._loop(self.webhooks_once, stop))
        try:
            await asyncio.gather(*loops)
        finally:
            await self.close()


class BackgroundWorker:
    """The worker as a task of the server's lifespan."""

    grace_seconds = 10.0  # at shutdown, time for the message in flight to finish

    def __init__(self, ctx: AppContext, *, mail: bool) -> None:
        self.stop = asyncio.Event()
        self.mail = mail
        self.task = asyncio.create_task(Worker(ctx, mail=mail).run_forever(self.stop))

    async def close(self) -> None:
        self.stop.set()
        try:
            await asyncio.wait_for(self.task, timeout=self.grace_seconds)
        except TimeoutError:
            self.task.cancel()


async def mail_health(
    ctx: AppContext, worker_running: bool, business_id: str, mode: str
) -> dict[str, object]:
    """The mail state as one business (in one mode) sees it: its own outbox only."""
    report: dict[str, object] = {
        "configured": ctx.settings.smtp_configured,
        "worker": worker_running,
    }
    try:
        async with ctx.db.read_sessions() as session:
            counts = await repository.count_by_status(session, business_id, mode)
    except (SQLAlchemyError, OSError) as exc:  # health must answer even then
        return {**report, "queued": None, "failed": None, "error": type(exc).__name__}
    return {
        **report,
        "queued": counts.get("queued", 0) + counts.get("sending", 0),
        "failed": counts.get("failed", 0),
    }


def warn_plaintext_auth(settings: Settings) -> None:
    """Say on stderr at start that the relay password will not be sent without TLS."""
    if settings.smtp_auth_refused:
        sys.stderr.write(
            "licensor: LICENSOR_SMTP_USERNAME/PASSWORD are set but LICENSOR_SMTP_TLS=none: "
            "the password is never sent in clear, so every license email fails until TLS "
            "is on (or LICENSOR_SMTP_ALLOW_PLAINTEXT_AUTH=true)\n"
        )
        sys.stderr.flush()


def announce_mail(ctx: AppContext) -> bool:
    """Say on stderr at start when mail cannot go out; True when the worker should run."""
    if not ctx.settings.smtp_configured:
        sys.stderr.write(
            "licensor: SMTP is not configured (LICENSOR_SMTP_HOST): license emails "
            "wait in the outbox until it is\n"
        )
        sys.stderr.flush()
        return False
    warn_plaintext_auth(ctx.settings)
    return ctx.settings.mail_worker
