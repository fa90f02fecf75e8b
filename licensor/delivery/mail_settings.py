"""A business's mail settings: sender, reply-to, footer, domain, staff and reseller domains."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.delivery import repository
from licensor.delivery.schemas import MailSettingsIn, MailSettingsOut
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict
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
    values = body.model_dump()
    fields = tuple(values)
    if row is None:
        row = MailSettings(id=new_id("mst"), business_id=business_id, mode=mode, **values)
        session.add(row)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:  # a concurrent first PUT created the row
            raise Conflict(
                "the mail settings were changed at the same time; try again",
                code="CONCURRENT_UPDATE",
            ) from exc
        audit.creation(session, row, "mail_settings.created", fields)
        return to_out(business_id, mode, row)
    before = audit.snapshot(row, fields)
    for field, value in values.items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    await session.flush()
    audit.change(session, row, "mail_settings.updated", fields, before)
    return to_out(business_id, mode, row)
