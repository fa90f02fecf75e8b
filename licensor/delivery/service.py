"""License delivery: who may receive a license, and writing the email into the outbox.

`enqueue_license_email` is the one entry point for every kind of license: the caller
passes its own session, so the job commits (or rolls back) with the license itself.
Services only flush; the request, CLI command or job owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.delivery import repository
from licensor.delivery.render import KINDS, Attachment, template_exists
from licensor.delivery.schemas import DeliveryCreate, DeliveryOut
from licensor.kit.addresses import AddressError, domain_in, split_address
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.errors import Conflict, NotFound, Unprocessable
from licensor.kit.hostname import local_fqdn
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.license_key import service as license_key_service
from licensor.license_key.errors import LicenseKeyNotFound
from licensor.models import Customer, EmailJob, LicenseKey, Product, User

RECIPIENT_IS_STAFF = "RECIPIENT_IS_STAFF"
RECIPIENT_IS_RESELLER = "RECIPIENT_IS_RESELLER"
REASON_REQUIRED = "REASON_REQUIRED"


def recipient_parts(address: str) -> tuple[str, str]:
    """(local part, canonical domain) of a recipient, or a 422 naming what is wrong."""
    try:
        return split_address(address)
    except AddressError as exc:
        raise Unprocessable(f"{address!r} cannot receive a license: {exc}", code=exc.code) from exc


async def check_recipient(session: AsyncSession, business_id: str, mode: str, address: str) -> None:
    """Refuse the business's own staff (its users, its staff domains) and its resellers.

    The domain is compared in its canonical form (case, trailing dot, IDNA), and IP
    literals and invisible characters are refused outright, so no spelling of a staff
    address gets past the check."""
    local, domain = recipient_parts(address)
    staff_user = False
    emails = await session.scalars(select(User.email).where(User.business_id == business_id))
    for email in emails:
        try:
            staff_local, staff_domain = split_address(email)
        except AddressError:
            continue
        if staff_domain == domain and staff_local.lower() == local.lower():
            staff_user = True
    settings = await repository.mail_settings(session, business_id, mode)
    if staff_user or (settings and domain_in(domain, settings.staff_domains)):
        raise Unprocessable(
            f"{address} belongs to the business's staff: a license goes to the end user",
            code=RECIPIENT_IS_STAFF,
        )
    if settings and domain_in(domain, settings.reseller_domains):
        raise Unprocessable(
            f"{address} is at a reseller's domain: a license goes to the end user",
            code=RECIPIENT_IS_RESELLER,
        )


def message_id_for(job_id: str, domain: str | None) -> str:
    host = domain or local_fqdn()
    return f"<{job_id}@licensor.{host}>"


def encrypt_payload(
    vault: Vault, job_id: str, context: dict[str, Any], attachments: Sequence[Attachment]
) -> bytes:
    payload = {"context": context, "attachments": [a.to_json() for a in attachments]}
    return vault.encrypt(orjson.dumps(payload).decode(), job_id)


def decrypt_payload(vault: Vault, job: EmailJob) -> tuple[dict[str, Any], list[Attachment]]:
    data = orjson.loads(vault.decrypt(job.payload_encrypted, job.id))
    return data["context"], [Attachment.from_json(a) for a in data["attachments"]]


async def enqueue_license_email(
    session: AsyncSession,
    ctx: AppContext,
    *,
    business_id: str,
    mode: str,
    license_id: str,
    kind: str,
    licensee_email: str,
    context: dict[str, Any],
    attachments: Sequence[Attachment] = (),
    to: str | None = None,
    reason: str | None = None,
    template: str | None = None,
    resend_of: str | None = None,
) -> EmailJob:
    """Queue one license email in the caller's transaction (flush only).

    The recipient is the licensee unless `to` names another address, which needs a
    `reason` (kept on the job). Staff and reseller addresses are refused either way.
    `context` must be JSON-serialisable; it and the attachments are stored encrypted.
    """
    if kind not in KINDS:
        raise Unprocessable(f"kind must be one of {', '.join(KINDS)}", code="INVALID_KIND")
    template = template or kind
    if not template_exists(template):
        raise Unprocessable(f"no email template named {template!r}", code="UNKNOWN_TEMPLATE")
    reason = reason.strip() if reason and reason.strip() else None
    recipient = (to or licensee_email).strip()
    if recipient.lower() != licensee_email.strip().lower() and reason is None:
        raise Unprocessable(
            "sending a license to an address other than the licensee's needs a reason",
            code=REASON_REQUIRED,
        )
    await check_recipient(session, business_id, mode, recipient)
    settings = await repository.mail_settings(session, business_id, mode)
    job_id = new_id("eml")
    now = utcnow()
    job = EmailJob(
        id=job_id,
        business_id=business_id,
        mode=mode,
        license_id=license_id,
        kind=kind,
        template=template,
        recipient=recipient,
        licensee_email=licensee_email.strip(),
        reason=reason,
        payload_encrypted=encrypt_payload(ctx.vault, job_id, context, attachments),
        message_id=message_id_for(
            job_id, (settings.domain if settings else None) or ctx.settings.mail_domain
        ),
        status="queued",
        attempts=0,
        max_attempts=max(1, ctx.settings.mail_max_attempts),
        next_attempt_at=now,
        resend_of=resend_of,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    fields = ("license_id", "kind", "template", "recipient", "reason", "resend_of")
    audit.creation(session, job, "delivery.queued", fields, note=reason)
    return job


async def key_context(session: AsyncSession, vault: Vault, row: LicenseKey) -> dict[str, Any]:
    product = await session.get(Product, row.product_id)
    customer = await session.get(Customer, row.customer_id)
    if product is None or customer is None:
        raise LicenseKeyNotFound(f"license key {row.id} not found")
    return {
        "license_id": row.id,
        "license_key": vault.decrypt(row.key_encrypted, row.id),
        "product_name": product.name,
        "customer_name": customer.name,
        "customer_email": customer.email,
        "activations_limit": row.activations_limit,
        "expires_at": row.expires_at.strftime("%Y-%m-%d %H:%M UTC") if row.expires_at else None,
        "activation_message": product.license_key_activation_message,
    }


async def license_key(session: AsyncSession, who: Principal, key_id: str) -> LicenseKey:
    if not key_id.isprintable():  # NUL would reach PostgreSQL as a 500
        raise LicenseKeyNotFound(f"license key {key_id!r} not found")
    return await license_key_service.get(session, who, key_id)


async def sendable_key(session: AsyncSession, who: Principal, key_id: str) -> LicenseKey:
    row = await license_key(session, who, key_id)
    if row.disabled:
        raise Unprocessable(
            f"license key {key_id} is disabled: enable it before sending it",
            code="LICENSE_KEY_DISABLED",
        )
    return row


async def send_license_key(
    session: AsyncSession, ctx: AppContext, who: Principal, key_id: str, body: DeliveryCreate
) -> EmailJob:
    """Email a core license key to its customer, or (with a reason) to another address."""
    row = await sendable_key(session, who, key_id)
    context = await key_context(session, ctx.vault, row)
    return await enqueue_license_email(
        session,
        ctx,
        business_id=who.business_id,
        mode=who.mode,
        license_id=row.id,
        kind="key",
        licensee_email=context["customer_email"],
        context=context,
        to=body.to,
        reason=body.reason,
    )


async def get_job(session: AsyncSession, who: Principal, license_id: str, job_id: str) -> EmailJob:
    usable = len(job_id) <= 64 and job_id.isprintable()
    job = await session.get(EmailJob, job_id) if usable else None
    if (
        job is None
        or job.business_id != who.business_id
        or job.mode != who.mode
        or job.license_id != license_id
    ):
        raise NotFound(f"delivery {job_id} not found", code="DELIVERY_NOT_FOUND")
    return job


async def resend(
    session: AsyncSession, ctx: AppContext, who: Principal, license_id: str, job_id: str
) -> EmailJob:
    """Queue a failed or lost (sent but not received) delivery again, as a new message."""
    old = await get_job(session, who, license_id, job_id)
    if old.status not in ("sent", "failed"):
        raise Conflict(
            f"delivery {job_id} is still {old.status}: it will be attempted again by itself",
            code="DELIVERY_IN_PROGRESS",
        )
    context, attachments = decrypt_payload(ctx.vault, old)
    return await enqueue_license_email(
        session,
        ctx,
        business_id=old.business_id,
        mode=old.mode,
        license_id=old.license_id,
        kind=old.kind,
        licensee_email=old.licensee_email,
        context=context,
        attachments=attachments,
        to=old.recipient,
        reason=old.reason,
        template=old.template,
        resend_of=old.id,
    )


async def list_for_license_key(
    session: AsyncSession, who: Principal, key_id: str
) -> list[EmailJob]:
    row = await license_key(session, who, key_id)
    return await jobs_of(session, who, row.id)


async def jobs_of(session: AsyncSession, who: Principal, license_id: str) -> list[EmailJob]:
    """The emails of a license the caller has already found (desk license, subscription)."""
    return await repository.list_for_license(session, who.business_id, who.mode, license_id)


def to_out(job: EmailJob) -> DeliveryOut:
    return DeliveryOut(
        id=job.id,
        license_id=job.license_id,
        kind=job.kind,
        template=job.template,
        recipient=job.recipient,
        licensee_email=job.licensee_email,
        redirected=job.recipient.lower() != job.licensee_email.lower(),
        reason=job.reason,
        status=job.status,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        last_error=job.last_error,
        message_id=job.message_id,
        next_attempt_at=job.next_attempt_at if job.status in ("queued", "sending") else None,
        created_at=job.created_at,
        sent_at=job.sent_at,
        resend_of=job.resend_of,
    )
