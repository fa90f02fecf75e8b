"""The license desk's routes. `POST /licenses/activate|validate|deactivate` stay the
public hot path (served before FastAPI); everything here needs a management API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse

from licensor.auth.dependencies import Auth
from licensor.delivery import service as delivery
from licensor.delivery.schemas import DeliveryCreate, DeliveryOut
from licensor.kit.deps import Ctx, ListSession, ReadSession, WriteSession
from licensor.kit.errors import error_responses
from licensor.kit.pagination import ListResponse, Page
from licensor.license_desk import licensefile, mail, rules, search, service
from licensor.license_desk.schemas import (
    LicenseCreate,
    LicenseDuplicate,
    LicenseOut,
    LicenseType,
    NoteCreate,
)

router = APIRouter(prefix="/licenses", tags=["License desk"])
FILE_MEDIA_TYPE = "application/x-licensor-license"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LicenseOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Issue a legacy or offline cloud license (staff: customer, subscription, notes)",
)
async def create_license(
    body: LicenseCreate, who: Auth, ctx: Ctx, session: WriteSession
) -> LicenseOut:
    row = await service.issue(session, ctx, who, body, rules.staff(who, body.author))
    return (await service.to_out(session, ctx.vault, [row]))[0]


@router.get(
    "",
    response_model=ListResponse[LicenseOut],
    responses=error_responses(401, 422),
    summary="List or search desk licenses (newest first)",
)
async def list_licenses(
    who: Auth,
    ctx: Ctx,
    session: ListSession,
    page: Page,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    subscription_id: Annotated[str | None, Query(max_length=64)] = None,
    license_type: LicenseType | None = None,
    trial: Annotated[bool | None, Query(description="Only trials (or only non-trials).")] = None,
    email: Annotated[
        str | None, Query(max_length=320, description="The licensee's whole email or its domain.")
    ] = None,
    company: Annotated[
        str | None, Query(max_length=300, description="The licensee's company (case-insensitive).")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=320,
            description="One box: email (whole or domain), company, name, exact license key, "
            "license or subscription id, billing subscription id.",
        ),
    ] = None,
) -> ListResponse[LicenseOut]:
    wanted = search.search_of(
        ctx.vault,
        customer_id=customer_id,
        subscription_id=subscription_id,
        license_type=license_type,
        trial=trial,
        email=email,
        company=company,
        q=q,
    )
    rows = await search.list_page(session, who, page, wanted)
    return ListResponse(items=await service.to_out(session, ctx.vault, rows))


@router.get("/{license_id}", response_model=LicenseOut, responses=error_responses(401, 404))
async def get_license(license_id: str, who: Auth, ctx: Ctx, session: ReadSession) -> LicenseOut:
    row = await service.get(session, who, license_id)
    return (await service.to_out(session, ctx.vault, [row]))[0]


@router.get(
    "/{license_id}/file",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {FILE_MEDIA_TYPE: {}}, "description": "The signed license file"},
        **error_responses(401, 404, 409),
    },
    summary="The signed license file (docs/license-file-format.md)",
)
async def license_file(
    license_id: str,
    who: Auth,
    ctx: Ctx,
    session: WriteSession,
    encrypted: bool = Query(False, description="Encrypt under the license key (AES-256-GCM)."),
) -> PlainTextResponse:
    row = await service.get(session, who, license_id)
    text = await licensefile.license_file(session, ctx.vault, row, encrypt=encrypted)
    return PlainTextResponse(
        text,
        media_type=FILE_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{row.id}.license"'},
    )


@router.post(
    "/{license_id}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=LicenseOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Re-issue a legacy license with overrides (keeps the licensee unless asked)",
)
async def duplicate_license(
    license_id: str, body: LicenseDuplicate, who: Auth, ctx: Ctx, session: WriteSession
) -> LicenseOut:
    issuer = rules.staff(who, body.author)
    row = await service.duplicate(session, ctx, who, license_id, body, issuer)
    return (await service.to_out(session, ctx.vault, [row]))[0]


@router.post(
    "/{license_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=LicenseOut,
    responses=error_responses(401, 404, 422),
)
async def add_note(
    license_id: str, body: NoteCreate, who: Auth, ctx: Ctx, session: WriteSession
) -> LicenseOut:
    row = await service.get(session, who, license_id)
    author = rules.staff(who, body.author).author
    await service.add_note(
        session, row, author, body.text, ticket_link=body.ticket_link, label=body.label
    )
    return (await service.to_out(session, ctx.vault, [row]))[0]


@router.post(
    "/{license_id}/deliveries",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Email the license file to the licensee (or, with a reason, another address)",
)
async def create_delivery(
    license_id: str, who: Auth, ctx: Ctx, session: WriteSession, body: DeliveryCreate | None = None
) -> DeliveryOut:
    row = await service.get(session, who, license_id)
    body = body or DeliveryCreate()
    job = await mail.send_license(session, ctx, row, to=body.to, reason=body.reason)
    return delivery.to_out(job)


@router.get(
    "/{license_id}/deliveries",
    response_model=ListResponse[DeliveryOut],
    responses=error_responses(401, 404),
    summary="The emails of a license: queued, sending, sent or failed",
)
async def list_deliveries(
    license_id: str, who: Auth, session: ReadSession
) -> ListResponse[DeliveryOut]:
    row = await service.get(session, who, license_id)
    jobs = await delivery.jobs_of(session, who, row.id)
    return ListResponse(items=[delivery.to_out(j) for j in jobs])


@router.post(
    "/{license_id}/deliveries/{delivery_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Send a failed or lost delivery of a license again (a new delivery)",
)
async def resend_delivery(
    license_id: str, delivery_id: str, who: Auth, ctx: Ctx, session: WriteSession
) -> DeliveryOut:
    row = await service.get(session, who, license_id)  # 404 for another tenant's license
    return delivery.to_out(await delivery.resend(session, ctx, who, row.id, delivery_id))
