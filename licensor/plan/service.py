"""Plans: a business's plan codes and the features each entitles. Services only flush."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict, NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.repository import get_scoped
from licensor.kit.tenancy import Principal
from licensor.models import Plan
from licensor.plan import repository
from licensor.plan.schemas import PlanCreate, PlanUpdate


async def get(session: AsyncSession, who: Principal, plan_id: str) -> Plan:
    row = await get_scoped(session, Plan, plan_id, who.business_id, who.mode)
    if row is None:
        raise NotFound(f"plan {plan_id} not found", code="PLAN_NOT_FOUND")
    return row


async def by_code(session: AsyncSession, who: Principal, code: str) -> Plan:
    row = await repository.by_code(session, who.business_id, who.mode, code)
    if row is None:
        raise NotFound(f"plan with code {code!r} not found", code="PLAN_NOT_FOUND")
    return row


def _dedupe(features: list[str]) -> list[str]:
    return list(dict.fromkeys(features))


async def create(session: AsyncSession, who: Principal, body: PlanCreate) -> Plan:
    if await repository.by_code(session, who.business_id, who.mode, body.code) is not None:
        raise Conflict(f"plan code {body.code!r} is already taken", code="PLAN_CODE_TAKEN")
    now = utcnow()
    row = Plan(
        id=new_id("plan"),
        business_id=who.business_id,
        mode=who.mode,
        code=body.code,
        name=body.name,
        features=_dedupe(body.features),
        max_instances=body.max_instances,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    audit.creation(session, row, "plan.created", AUDITED, public=PUBLIC)
    return row


AUDITED = ("code", "name", "features", "max_instances")
PUBLIC = ("code",)  # a plan's code is its name in the catalogue, not a secret


async def update(session: AsyncSession, who: Principal, plan_id: str, body: PlanUpdate) -> Plan:
    row = await get(session, who, plan_id)
    before = audit.snapshot(row, AUDITED)
    sent = body.model_fields_set
    if "name" in sent:
        if body.name is None:
            raise Unprocessable("name cannot be null", code="VALIDATION_ERROR")
        row.name = body.name
    if "features" in sent:
        row.features = _dedupe(body.features or [])
    if "max_instances" in sent:
        if body.max_instances is None:
            raise Unprocessable("max_instances cannot be null", code="VALIDATION_ERROR")
        row.max_instances = body.max_instances
    row.updated_at = utcnow()
    await session.flush()
    audit.change(session, row, "plan.updated", AUDITED, before, public=PUBLIC)
    return row


async def delete(session: AsyncSession, who: Principal, plan_id: str) -> None:
    row = await get(session, who, plan_id)
    if await repository.in_use(session, row.id):
        raise Conflict(f"plan {row.code!r} has subscriptions", code="PLAN_IN_USE")
    gone = audit.removed(audit.snapshot(row, AUDITED), PUBLIC)
    await session.delete(row)
    await session.flush()
    audit.event(session, row, "plan.deleted", gone)


async def list_page(session: AsyncSession, who: Principal, page: PageParams) -> list[Plan]:
    return await fetch_page(session, repository.list_statement(who.business_id, who.mode), page)
