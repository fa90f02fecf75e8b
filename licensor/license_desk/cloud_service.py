"""Cloud activation and seat links (no API key: the activation code or the license key
is the credential). Activation issues an online cloud license for the instance; each
seat link is kept with its overage, and is answered with the instance's current
license, a new one when the subscription's terms changed. Services only flush.

An instance is bound to the code it was activated with and holds one of the
subscription's slots (the cap: `max_instances`) while it is not revoked and that code is
live. Activating a new instance past the cap is refused; activating again with the new
code moves an instance whose code was revoked (and takes a slot again). The cap is
counted under the subscription's row lock (PostgreSQL; SQLite's writers are serialised),
so concurrent activations never pass it. A revoked instance, or one whose code was
revoked, gets no seat link answered (docs/license-desk.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.license_desk import cloud_repository as repository
from licensor.license_desk import licensefile, rules
from licensor.license_desk import repository as desk_repository
from licensor.license_desk import service as desk
from licensor.license_desk.cloud_schemas import SeatLinkIn
from licensor.models import (
    ActivationCode,
    CloudInstance,
    Customer,
    DeskLicense,
    Plan,
    SeatLink,
    Subscription,
)
from licensor.subscription import codes
from licensor.subscription.errors import SubscriptionCancelled
from licensor.webhooks import events

CLOUD = rules.Issuer("cloud", "cloud-activation")


@dataclass(frozen=True)
class Held:
    instance: CloudInstance
    license: DeskLicense
    license_key: str
    license_file: str
    new_license: bool


BEFORE_START = timedelta(days=1)  # a seat link may be timed this long before the term


def _code_revoked() -> Forbidden:
    return Forbidden("this activation code was revoked", code="ACTIVATION_CODE_REVOKED")


def _instance_revoked(instance: CloudInstance) -> Forbidden:
    return Forbidden(
        f"cloud instance {instance.instance_id!r} was revoked", code="CLOUD_INSTANCE_REVOKED"
    )


async def _subscription_of_code(
    session: AsyncSession, vault: Vault, code: str, mode: str
) -> tuple[Subscription, ActivationCode]:
    """The code's subscription; a code of the other mode is as unknown as a missing one."""
    row = await codes.find(session, vault, code)
    sub = await session.get(Subscription, row.subscription_id) if row is not None else None
    if row is None or sub is None or sub.mode != mode:
        raise NotFound("activation code not recognised", code="ACTIVATION_CODE_INVALID")
    if row.revoked_at is not None:
        raise _code_revoked()
    return sub, row


def _check_usable(sub: Subscription) -> None:
    if sub.cancelled_at is not None:
        raise SubscriptionCancelled("the subscription is cancelled")
    if sub.cloud_licensing != "Yes":
        raise Conflict(
            "cloud licensing is not turned on for this subscription",
            code="CLOUD_LICENSING_NOT_ENABLED",
        )
    if sub.expires_at is None:
        raise Conflict(
            "the subscription has no end date, which a license needs",
            code="SUBSCRIPTION_WITHOUT_END_DATE",
        )


def _current(row: DeskLicense, sub: Subscription, plan: Plan) -> bool:
    return (
        row.users_count == sub.users_count
        and row.plan_code == plan.code
        and row.plan_name == plan.name
        and list(row.plan_features) == list(plan.features)
        and row.starts_at == sub.starts_at
        and row.expires_at == sub.expires_at
        and row.subscription_name == sub.name
        and row.subscription_external_id == sub.external_id
    )


async def _issue(
    session: AsyncSession, vault: Vault, sub: Subscription, plan: Plan, instance_row_id: str
) -> DeskLicense:
    customer = await session.get(Customer, sub.customer_id)
    assert customer is not None
    fields = {
        "customer_id": customer.id,
        "name": customer.name,
        "company": rules.company_of(customer),
        "email": customer.email,
        "users_count": sub.users_count,
        "starts_at": sub.starts_at,
        "expires_at": sub.expires_at,
    }
    return await desk.insert(
        session,
        vault,
        business_id=sub.business_id,
        mode=sub.mode,
        license_type="online_cloud",
        issuer=CLOUD,
        fields=fields,
        plan=plan,
        subscription=sub,
        notes=None,
        cloud_instance_id=instance_row_id,
    )


async def _hold(
    session: AsyncSession, vault: Vault, sub: Subscription, instance: CloudInstance
) -> Held:
    """The instance's license, re-issued when the subscription's terms changed."""
    plan = await session.get(Plan, sub.plan_id)
    assert plan is not None
    row = await session.get(DeskLicense, instance.license_id)
    new = row is None or not _current(row, sub, plan)
    if new:
        old_license = instance.license_id
        row = await _issue(session, vault, sub, plan, instance.id)
        instance.license_id = row.id
        if old_license is not None and old_license != row.id:
            reissued = audit.changes_of({"license_id": (old_license, row.id)})
            audit.event(session, instance, "cloud_instance.license_reissued", reissued)
    assert row is not None
    instance.last_seen_at = utcnow()
    await session.flush()
    text = await licensefile.render(session, vault, row)
    key = vault.decrypt(row.key_encrypted, row.id)
    return Held(instance, row, key, text, new)


async def _admit(
    session: AsyncSession, sub: Subscription, code: ActivationCode, instance: CloudInstance | None
) -> None:
    """May this instance (None: a new one) be activated with the live `code`? A revoked
    instance never; one bound to `code` already holds its slot; any other takes a slot."""
    if instance is not None and instance.revoked_at is not None:
        raise _instance_revoked(instance)
    if instance is not None and instance.activation_code_id == code.id:
        return
    plan = await session.get(Plan, sub.plan_id)
    assert plan is not None
    cap = sub.max_instances or plan.max_instances
    active = await repository.holding_slots(session, sub.id, code.id)
    if active >= cap:
        raise Conflict(
            f"this subscription allows {cap} active cloud instance{'s' if cap > 1 else ''} "
            f"and has {active}: revoke one, or raise the subscription's max_instances",
            code="CLOUD_INSTANCE_LIMIT_REACHED",
        )


async def check_activation(
    session: AsyncSession, vault: Vault, code: str, instance_id: str, mode: str
) -> None:
    """Authenticate an activation and check the cap with reads only, before any write
    transaction (`activate` checks again under the subscription's lock)."""
    sub, row = await _subscription_of_code(session, vault, code, mode)
    _check_usable(sub)
    await _admit(session, sub, row, await repository.instance(session, sub.id, instance_id))


async def activate(
    session: AsyncSession, vault: Vault, code: str, instance_id: str, mode: str
) -> Held:
    sub, row = await _subscription_of_code(session, vault, code, mode)
    # One activation (and code change) of the subscription at a time, so the count of
    # instances holding a slot is the count the new one joins.
    await session.refresh(sub, with_for_update=True)
    await session.refresh(row)
    if row.revoked_at is not None:  # regenerated while this request waited for the lock
        raise _code_revoked()
    _check_usable(sub)
    instance = await repository.instance(session, sub.id, instance_id, lock=True)
    await _admit(session, sub, row, instance)
    if instance is None:
        try:
            async with session.begin_nested():
                instance = await _new_instance(session, vault, sub, row, instance_id)
        except IntegrityError:  # a concurrent activation of the same instance won
            instance = await repository.instance(session, sub.id, instance_id, lock=True)
            if instance is None:
                raise
            await _admit(session, sub, row, instance)
    if instance.activation_code_id != row.id:  # activated again with the new code
        moved = audit.changes_of({"activation_code_id": (instance.activation_code_id, row.id)})
        instance.activation_code_id = row.id
        audit.event(session, instance, "cloud_instance.code_changed", moved)
    return await _hold(session, vault, sub, instance)


async def _new_instance(
    session: AsyncSession,
    vault: Vault,
    sub: Subscription,
    code: ActivationCode,
    instance_id: str,
) -> CloudInstance:
    plan = await session.get(Plan, sub.plan_id)
    assert plan is not None
    instance_row_id = new_id("ins")
    row = await _issue(session, vault, sub, plan, instance_row_id)
    instance = CloudInstance(
        id=instance_row_id,
        business_id=sub.business_id,
        mode=sub.mode,
        subscription_id=sub.id,
        instance_id=instance_id,
        license_id=row.id,
        activation_code_id=code.id,
        activated_at=utcnow(),
        last_seen_at=utcnow(),
    )
    session.add(instance)
    await session.flush()
    fields = ("subscription_id", "instance_id", "license_id", "activation_code_id", "activated_at")
    audit.creation(session, instance, "cloud_instance.activated", fields)
    return instance


async def _instance_of(
    session: AsyncSession, vault: Vault, body: SeatLinkIn, mode: str
) -> tuple[Subscription, CloudInstance]:
    not_activated = NotFound(
        f"instance {body.instance_id!r} is not activated", code="INSTANCE_NOT_ACTIVATED"
    )
    if body.license_key is not None:
        held = await desk_repository.by_key_hash(
            session, vault.lookup_hash(body.license_key, rules.KEY_PURPOSE)
        )
        if held is None or held.mode != mode:
            raise NotFound("license key not recognised", code="LICENSE_KEY_INVALID")
        if held.cloud_instance_id is None:
            raise not_activated
        instance = await session.get(CloudInstance, held.cloud_instance_id)
        if instance is None or instance.instance_id != body.instance_id:
            raise not_activated
        sub = await session.get(Subscription, instance.subscription_id)
        assert sub is not None
        return sub, instance
    if body.activation_code is None:
        raise Unprocessable("send license_key or activation_code", code="LICENSE_REFERENCE_MISSING")
    sub, _ = await _subscription_of_code(session, vault, body.activation_code, mode)
    found = await repository.instance(session, sub.id, body.instance_id)
    if found is None:
        raise not_activated
    return sub, found


async def _check_bound(session: AsyncSession, instance: CloudInstance) -> None:
    """A revoked instance, or one whose activation code was revoked (or, from before
    migration 0700, is not known), is answered no license."""
    if instance.revoked_at is not None:
        raise _instance_revoked(instance)
    code_id = instance.activation_code_id
    code = await session.get(ActivationCode, code_id) if code_id is not None else None
    if code is None or code.revoked_at is not None:
        raise Forbidden(
            f"instance {instance.instance_id!r} was activated with an activation code that "
            "is revoked: activate it again with the subscription's current code",
            code="ACTIVATION_CODE_REVOKED",
        )


def _check_time(at: datetime, sub: Subscription, skew: timedelta) -> None:
    if at > utcnow() + skew:
        raise Unprocessable(
            f"timestamp {at.isoformat()} is in the future (more than "
            f"{int(skew.total_seconds())} s ahead of the server's clock)",
            code="SEAT_LINK_TIMESTAMP_INVALID",
        )
    if at < sub.starts_at - BEFORE_START:
        raise Unprocessable(
            f"timestamp {at.isoformat()} is more than a day before the subscription starts "
            f"({sub.starts_at.isoformat()})",
            code="SEAT_LINK_TIMESTAMP_INVALID",
        )


async def check_seat_link(
    session: AsyncSession, vault: Vault, body: SeatLinkIn, mode: str, skew: timedelta
) -> None:
    """Check the usage and authenticate the instance with reads only, before any write.
    `skew`: how far ahead of the server's clock the report's timestamp may be."""
    if body.max_historical_users_count < body.billable_users_count:
        raise Unprocessable(
            "max_historical_users_count cannot be below billable_users_count",
            code="INVALID_USAGE",
        )
    sub, instance = await _instance_of(session, vault, body, mode)
    _check_usable(sub)
    await _check_bound(session, instance)
    _check_time(body.timestamp, sub, skew)


async def seat_link(
    session: AsyncSession, vault: Vault, body: SeatLinkIn, mode: str, skew: timedelta
) -> tuple[Held, SeatLink]:
    """After `check_seat_link`; the checks run again inside the write transaction."""
    await check_seat_link(session, vault, body, mode, skew)
    sub, instance = await _instance_of(session, vault, body, mode)
    await session.refresh(instance, with_for_update=True)  # one re-issue per change
    await _check_bound(session, instance)  # not revoked while this request waited
    held = await _hold(session, vault, sub, instance)
    link = SeatLink(
        id=new_id("seat"),
        subscription_id=sub.id,
        cloud_instance_id=instance.id,
        reported_at=body.timestamp,
        billable_users_count=body.billable_users_count,
        max_historical_users_count=body.max_historical_users_count,
        licensed_users_count=sub.users_count,
        overage=max(body.max_historical_users_count - sub.users_count, 0),
        license_id=held.license.id,
        created_at=utcnow(),
    )
    session.add(link)
    await session.flush()
    if link.overage > 0:
        data = {
            "id": link.id,
            "subscription_id": sub.id,
            "cloud_instance_id": instance.id,
            "license_id": link.license_id,
            "reported_at": link.reported_at.isoformat(),
            "billable_users_count": link.billable_users_count,
            "max_historical_users_count": link.max_historical_users_count,
            "licensed_users_count": link.licensed_users_count,
            "overage": link.overage,
        }
        await events.emit(session, sub.business_id, sub.mode, events.SEAT_OVERAGE, data)
    verb = "over_purchase" if link.overage > 0 else "reported"
    audit.record(
        session,
        business_id=sub.business_id,
        mode=sub.mode,
        action=f"seat_link.{verb}",
        target_type="seat_link",
        target_id=link.id,
        changes=audit.created(audit.snapshot(link, SEAT_LINK_FIELDS)),
    )
    return held, link


SEAT_LINK_FIELDS = (
    "subscription_id",
    "cloud_instance_id",
    "reported_at",
    "billable_users_count",
    "max_historical_users_count",
    "licensed_users_count",
    "overage",
    "license_id",
)
