"""A business's mail settings: sender, reply-to, footer, domain, staff and reseller domains."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.delivery import repository
from licensor.delivery.schemas import MailSettingsIn, MailSettingsOut
from licensor.kit.clock import utcnow
from licensor.kit.ids import new_id
from licensor.models import MailSettings


def to_out(business_id: str, mode: str, row: MailSettings | None) -> MailSettingsOut:
    if row is None:
        return MailSettingsOut(
            business_id=business_id,
            mode=mode,
            sender_name=None,
            sender_email=None,
            reply_to=None,
            footer=None,
            domain=None,
            staff_domains=[],
            reseller_domains=[],
        )
    return MailSettingsOut.model_validate(row)


async def get(session: AsyncSession, business_id: str, mode: str) -> MailSettingsOut:
    return to_out(business_id, mode, await repository.mail_settings(session, business_id, mode))


async def put(
    session: AsyncSession, business_id: str, mode: str, body: MailSettingsIn
) -> MailSettingsOut:
    """Replace the settings as a whole (a field left out is cleared)."""
    row = await repository.mail_settings(session, business_id, mode)
    if row is None:
        row = MailSettings(id=new_id("mst"), business_id=business_id, mode=mode)
        session.add(row)
    for field, value in body.model_dump().items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    await session.flush()
    return to_out(business_id, mode, row)
