"""Emailing what the desk issues, through the delivery outbox (licensor/delivery).

A legacy or offline cloud license goes out as a "file" email with its signed license
file attached (activation codes: licensor/subscription/mail.py). The job is queued in
the caller's transaction (flush only), so the email exists exactly when the license does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.delivery import service as delivery
from licensor.delivery.render import Attachment
from licensor.kit.context import AppContext
from licensor.kit.tenancy import Principal
from licensor.license_desk import licensefile
from licensor.models import DeskLicense, EmailJob

FILE_CONTENT_TYPE = "application/x-licensor-license"
DATE_FORMAT = "%Y-%m-%d %H:%M UTC"


def filename_of(row: DeskLicense) -> str:
    """The attachment's name: the one `GET /licenses/{id}/file` gives too."""
    return f"{row.id}.license"


async def check_licensee(session: AsyncSession, who: Principal, address: str) -> None:
    """The recipient rules, before anything is written (staff and resellers refused)."""
    await delivery.check_recipient(session, who.business_id, who.mode, address)


async def send_license(
    session: AsyncSession,
    ctx: AppContext,
    row: DeskLicense,
    *,
    to: str | None = None,
    reason: str | None = None,
) -> EmailJob:
    """Queue the license's file email to its licensee (or, with a reason, elsewhere)."""
    text = await licensefile.license_file(session, ctx.vault, row)
    context: dict[str, Any] = {
        "license_id": row.id,
        "filename": filename_of(row),
        "product_name": row.plan_name,
        "customer_name": row.licensee_name,
        "expires_at": row.expires_at.strftime(DATE_FORMAT),
        "users_count": row.users_count,
    }
    return await delivery.enqueue_license_email(
        session,
        ctx,
        business_id=row.business_id,
        mode=row.mode,
        license_id=row.id,
        kind="file",
        licensee_email=row.licensee_email,
        context=context,
        attachments=[Attachment(filename_of(row), FILE_CONTENT_TYPE, text.encode())],
        to=to,
        reason=reason,
    )
