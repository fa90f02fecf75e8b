"""The activation-code flow, once for the API and the CLI: show the subscription's code,
or issue a new one (revoking the previous), and with `send` email it in the same
transaction; email the current code again; revoke it. The caller owns the transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.delivery import service as delivery
from licensor.delivery.schemas import DeliveryCreate
from licensor.kit.context import AppContext
from licensor.kit.errors import NotFound
from licensor.kit.tenancy import Principal
from licensor.models import EmailJob
from licensor.subscription import codes, mail, service
from licensor.subscription.schemas import ActivationCodeOut


async def activation_code(
    session: AsyncSession,
    ctx: AppContext,
    who: Principal,
    sub_id: str,
    *,
    regenerate: bool,
    send: bool,
) -> ActivationCodeOut:
    """The current code, or with `regenerate` a new one; with `send`, emailed as well."""
    sub = await service.get(session, who, sub_id)
    if send:  # the recipient rules, before anything is written
        await mail.check_recipient(session, sub)
    if regenerate:
        code, row = await codes.issue(session, ctx.vault, sub)
    else:
        code, row = await codes.show(session, ctx.vault, sub)
    job = await mail.send_activation_code(session, ctx, sub, code) if send else None
    return ActivationCodeOut(
        subscription_id=sub.id,
        activation_code=code,
        created_at=row.created_at,
        delivery=delivery.to_out(job) if job is not None else None,
    )


async def send_again(
    session: AsyncSession, ctx: AppContext, who: Principal, sub_id: str, body: DeliveryCreate
) -> EmailJob:
    """Email the current code to the customer (or, with a reason, elsewhere)."""
    sub = await service.get(session, who, sub_id)
    mail.check_sendable(sub)
    code, _ = await codes.show(session, ctx.vault, sub)
    return await mail.send_activation_code(session, ctx, sub, code, to=body.to, reason=body.reason)


async def revoke(session: AsyncSession, who: Principal, sub_id: str) -> None:
    sub = await service.get(session, who, sub_id)
    if not await codes.revoke(session, sub):
        raise NotFound(
            f"subscription {sub.id} has no activation code", code="ACTIVATION_CODE_NOT_FOUND"
        )
