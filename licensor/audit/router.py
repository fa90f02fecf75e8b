from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from licensor.audit import service
from licensor.audit.schemas import AuditEventOut
from licensor.auth.dependencies import Auth
from licensor.kit.deps import Ctx, ListSession, reading, writing
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.kit.schemas import UTC

router = APIRouter(prefix="/audit_events", tags=["Audit log"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get(
    "",
    response_model=ListResponse[AuditEventOut],
    responses=error_responses(401, 422),
    summary="The audit log of this business and mode, newest first",
    description="Sealed first (`seq`, `prev_hash` and `hash` set on every event written "
    "so far; docs/events.md). With a read replica, events sealed a moment ago may show "
    "unsealed until it catches up.",
)
async def list_audit_events(
    who: Auth,
    ctx: Ctx,
    session: ListSession,
    page: Page,
    target_type: Text = None,
    target_id: Text = None,
    actor: Text = None,
    action: Text = None,
    created_at_gte: UTC | None = None,
    created_at_lte: UTC | None = None,
) -> ListResponse[AuditEventOut]:
    async with reading(ctx.db) as peek:  # its own snapshot: the list's sees the seal
        waiting = await service.has_unsealed(peek, who.business_id, who.mode)
    if waiting:  # seal first, in a short transaction of the request's own
        async with writing(ctx.db) as sealing:
            await service.seal_chain(sealing, who.business_id, who.mode)
    items = await service.list_page(
        session,
        who.business_id,
        who.mode,
        page,
        target_type=target_type,
        target_id=target_id,
        actor=actor,
        action=action,
        created_at_gte=created_at_gte,
        created_at_lte=created_at_lte,
    )
    return ListResponse(items=items)
