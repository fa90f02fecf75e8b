"""The license desk: issuing legacy and offline cloud licenses, duplicating legacy ones,
and the notes that say why. Services only flush; the request commits.

Who counts as staff: whoever issues a license through the desk API (`POST /licenses`,
`POST /licenses/{id}/duplicate`, with a management API key) or the CLI (`licensor
licenses create|duplicate`) is a person at the business, so the fields "required to be
filled by Support" (customer, subscription id, notes) are required of them too. Licenses
that cloud activation issues automatically (`Issuer.cloud`) are not staff-issued.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.customer import service as customer_service
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.errors import Conflict, NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.repository import get_scoped
from licensor.kit.search import email_domain, fold
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.license_desk import mail, repository
from licensor.license_desk.errors import FieldsMissing
from licensor.license_desk.rules import (
    DUPLICABLE_FIELDS,
    KEY_PURPOSE,
    Issuer,
    check_legacy_subscription,
    check_offline_subscription,
    company_of,
    missing_fields,
)
from licensor.license_desk.schemas import (
    TRIAL_LABEL,
    LicenseCreate,
    LicenseDuplicate,
    LicenseOut,
    NoteOut,
)
from licensor.license_key.keys import generate_key
from licensor.models import DeskLicense, LicenseNote, Plan, Subscription
from licensor.plan import service as plan_service
from licensor.subscription import codes
from licensor.subscription import service as subscription_service
from licensor.webhooks import events


async def get(session: AsyncSession, who: Principal, license_id: str) -> DeskLicense:
    row = None
    if license_id.isprintable():  # NUL would reach PostgreSQL as a 500
        row = await get_scoped(session, DeskLicense, license_id, who.business_id, who.mode)
    if row is None:
        raise NotFound(f"license {license_id} not found", code="LICENSE_NOT_FOUND")
    return row


async def duplicates_of(session: AsyncSession, row: DeskLicense) -> list[DeskLicense]:
    """The licenses duplicated from `row` (its own business and mode by construction)."""
    return await repository.duplicates_of(session, row.id)


async def to_out(session: AsyncSession, vault: Vault, rows: list[DeskLicense]) -> list[LicenseOut]:
    notes = await repository.notes_for(session, [r.id for r in rows])
    return [
        LicenseOut(
            id=r.id,
            license_type=r.license_type,
            issued_by=r.issued_by,
            license_key=vault.decrypt(r.key_encrypted, r.id),
            name=r.licensee_name,
            company=r.licensee_company,
            email=r.licensee_email,
            users_count=r.users_count,
            plan_code=r.plan_code,
            plan_name=r.plan_name,
            features=list(r.plan_features),
            starts_at=r.starts_at,
            expires_at=r.expires_at,
            issued_at=r.created_at,
            customer_id=r.customer_id,
            subscription_id=r.subscription_id,
            subscription_external_id=r.subscription_external_id,
            subscription_name=r.subscription_name,
            duplicated_from_id=r.duplicated_from_id,
            cloud_instance_id=r.cloud_instance_id,
            trial=r.trial,
            notes=[NoteOut.model_validate(n) for n in notes[r.id]],
        )
        for r in rows
    ]


async def insert(
    session: AsyncSession,
    vault: Vault,
    *,
    business_id: str,
    mode: str,
    license_type: str,
    issuer: Issuer,
    fields: dict[str, Any],
    plan: Plan,
    subscription: Subscription | None,
    notes: str | None,
    ticket_link: str | None = None,
    label: str | None = None,
    duplicated_from_id: str | None = None,
    cloud_instance_id: str | None = None,
) -> DeskLicense:
    """Store a license whose fields have been checked; make its key and its note."""
    for _ in range(5):
        key = generate_key("base32", None)
        key_hash = vault.lookup_hash(key, KEY_PURPOSE)
        if not await repository.key_hash_taken(session, key_hash):
            break
    else:  # pragma: no cover - 125 random bits
        raise Conflict("could not generate a unique license key", code="LICENSE_KEY_COLLISION")
    row_id = new_id("dlc")
    now = utcnow()
    row = DeskLicense(
        id=row_id,
        business_id=business_id,
        mode=mode,
        license_type=license_type,
        issued_by=issuer.kind,
        customer_id=fields.get("customer_id"),
        subscription_id=subscription.id if subscription else None,
        subscription_external_id=subscription.external_id if subscription else None,
        subscription_name=subscription.name if subscription else None,
        licensee_name=fields["name"],
        licensee_company=fields["company"],
        licensee_email=fields["email"],
        licensee_name_lc=fold(fields["name"]),
        licensee_company_lc=fold(fields["company"]),
        licensee_email_lc=fold(fields["email"]),
        licensee_email_domain=email_domain(fields["email"]),
        trial=False,
        users_count=fields["users_count"],
        plan_code=plan.code,
        plan_name=plan.name,
        plan_features=list(plan.features),
        starts_at=fields["starts_at"],
        expires_at=fields["expires_at"],
        key_hash=key_hash,
        key_encrypted=vault.encrypt(key, row_id),
        duplicated_from_id=duplicated_from_id,
        cloud_instance_id=cloud_instance_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    if notes is not None:
        await _store_note(session, row, issuer.author, notes, ticket_link=ticket_link, label=label)
    event = events.DESK_DUPLICATED if duplicated_from_id else events.DESK_ISSUED

    async def data() -> dict[str, object]:
        [out] = await to_out(session, vault, [row])
        return out.model_dump(mode="json")

    await events.emit(session, business_id, mode, event, data)
    verb = "duplicated" if duplicated_from_id else "issued"
    audit.creation(session, row, f"desk_license.{verb}", AUDITED, extra={"key": key}, note=notes)
    return row


AUDITED = (
    "license_type",
    "issued_by",
    "customer_id",
    "subscription_id",
    "licensee_name",
    "licensee_company",
    "licensee_email",
    "users_count",
    "plan_code",
    "plan_features",
    "starts_at",
    "expires_at",
    "duplicated_from_id",
    "cloud_instance_id",
    "trial",
)


async def _store_note(
    session: AsyncSession,
    row: DeskLicense,
    author: str,
    text: str,
    *,
    ticket_link: str | None = None,
    label: str | None = None,
) -> LicenseNote:
    """A note on a license; the trial label marks the license a trial."""
    note = LicenseNote(
        id=new_id("note"),
        license_id=row.id,
        author=author,
        text=text,
        ticket_link=ticket_link,
        label=label,
        created_at=utcnow(),
    )
    session.add(note)
    if label == TRIAL_LABEL:
        row.trial = True
    await session.flush()
    return note


async def add_note(
    session: AsyncSession,
    row: DeskLicense,
    author: str,
    text: str,
    *,
    ticket_link: str | None = None,
    label: str | None = None,
) -> LicenseNote:
    """A note added to an existing license (audited; a new license's note is part of its
    `desk_license.issued` event)."""
    was_trial = row.trial
    note = await _store_note(session, row, author, text, ticket_link=ticket_link, label=label)
    changes = audit.created({"note_id": note.id, "author": author, "label": label})
    if row.trial != was_trial:
        changes["trial"] = {"old": was_trial, "new": row.trial}
    audit.event(session, row, "desk_license.note_added", changes, note=text)
    return note


async def issue(
    session: AsyncSession,
    ctx: AppContext,
    who: Principal,
    body: LicenseCreate,
    issuer: Issuer,
    *,
    duplicated_from_id: str | None = None,
) -> DeskLicense:
    """Issue a legacy or offline cloud license: the hook other services call. With
    `send_email`, its file email is queued in the same transaction (licensor/license_desk/mail)."""
    if body.license_type == "online_cloud":
        raise Unprocessable(
            "online cloud subscriptions get an activation code instead of a license file",
            code="ONLINE_CLOUD_LICENSE_NOT_SUPPORTED",
        )
    missing = missing_fields(body, issuer)
    if missing:
        raise FieldsMissing(body.license_type, missing)
    assert body.license_type is not None
    assert body.starts_at
    assert body.expires_at
    if body.expires_at <= body.starts_at:
        raise Unprocessable("expires_at must be after starts_at", code="INVALID_TERM")
    plan = await plan_service.by_code(session, who, body.plan_code or "")
    customer = None
    if body.customer_id is not None:
        customer = await customer_service.get(session, who, body.customer_id)
    sub = None
    if body.subscription_id is not None:
        sub = await subscription_service.resolve(session, who, body.subscription_id)
        if customer is not None and sub.customer_id != customer.id:
            raise Unprocessable(
                f"subscription {body.subscription_id} belongs to another customer",
                code="SUBSCRIPTION_CUSTOMER_MISMATCH",
            )
    if body.license_type == "offline_cloud":
        assert sub is not None
        live = await codes.live(session, sub.id)
        check_offline_subscription(sub, live is not None)
    elif sub is not None:
        check_legacy_subscription(sub)
    if body.send_email:  # the recipient rules, before anything is written
        await mail.check_licensee(session, who, body.email or "")
    row = await insert(
        session,
        ctx.vault,
        business_id=who.business_id,
        mode=who.mode,
        license_type=body.license_type,
        issuer=issuer,
        fields=body.model_dump(),
        plan=plan,
        subscription=sub,
        notes=body.notes,
        ticket_link=body.ticket_link,
        label=body.label,
        duplicated_from_id=duplicated_from_id,
    )
    if body.send_email:  # the outbox row, in the license's transaction
        await mail.send_license(session, ctx, row)
    return row


async def duplicate(
    session: AsyncSession,
    ctx: AppContext,
    who: Principal,
    source_id: str,
    body: LicenseDuplicate,
    issuer: Issuer,
) -> DeskLicense:
    """Re-issue a legacy license with overrides. A new customer never silently replaces
    the licensee's name, email or company; `use_customer_details` asks for that, and a
    name, email or company given in the request still wins over the customer's."""
    source = await get(session, who, source_id)
    if source.license_type != "legacy":
        raise Conflict(
            f"only legacy licenses can be duplicated; {source.id} is {source.license_type}",
            code="LICENSE_NOT_DUPLICABLE",
        )
    fields: dict[str, Any] = {
        "license_type": source.license_type,
        "name": source.licensee_name,
        "company": source.licensee_company,
        "email": source.licensee_email,
        "users_count": source.users_count,
        "plan_code": source.plan_code,
        "starts_at": source.starts_at,
        "expires_at": source.expires_at,
        "customer_id": source.customer_id,
        "subscription_id": source.subscription_id,
    }
    given = {f: getattr(body, f) for f in body.model_fields_set if f in DUPLICABLE_FIELDS}
    fields.update(given)
    if body.use_customer_details:
        if fields["customer_id"] is None:
            raise Unprocessable(
                "use_customer_details needs a customer_id", code="CUSTOMER_REQUIRED"
            )
        customer = await customer_service.get(session, who, fields["customer_id"])
        details = {"name": customer.name, "email": customer.email, "company": company_of(customer)}
        # What the request types wins; a blank (None) field takes the customer's.
        fields.update({k: v for k, v in details.items() if given.get(k) is None})
    request = LicenseCreate.model_validate(
        {
            **fields,
            "notes": body.notes,
            "ticket_link": body.ticket_link,
            "label": body.label,
            "author": body.author,
            "send_email": body.send_email,
        }
    )
    return await issue(session, ctx, who, request, issuer, duplicated_from_id=source.id)
