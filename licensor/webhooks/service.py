"""Webhook endpoints: Dodo's create, read, change, delete, secret and headers, plus
Licensor's secret rotation. Services only flush; the request or CLI command commits.

Every change is on the audit log (`webhook_endpoint.*`, docs/events.md) without a
secret: not the signing secret (a rotation records when the old one stops signing),
and of the custom headers only their names."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.config import Settings
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.models import WebhookEndpoint
from licensor.webhooks import repository
from licensor.webhooks.events import filter_key
from licensor.webhooks.schemas import (
    HeadersOut,
    WebhookCreate,
    WebhookOut,
    WebhookPage,
    WebhookUpdate,
)
from licensor.webhooks.urls import check_url

SECRET_PREFIX = "whsec_"
# Headers the sender sets itself: an endpoint's custom headers may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "user-agent",
    }
)
SENSITIVE_WORDS = ("auth", "token", "secret", "key", "password", "cookie", "signature")


class WebhookNotFound(NotFound):
    code = "WEBHOOK_NOT_FOUND"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def is_sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_WORDS)


def to_out(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        created_at=row.created_at,
        description=row.description,
        metadata=dict(row.metadata_ or {}),
        updated_at=row.updated_at,
        url=row.url,
        disabled=row.disabled,
        filter_types=list(row.filter_types or []),
        rate_limit=row.rate_limit,
    )


async def get(session: AsyncSession, who: Principal, endpoint_id: str) -> WebhookEndpoint:
    row = await repository.endpoint(session, who.business_id, who.mode, endpoint_id)
    if row is None:
        raise WebhookNotFound(f"webhook {endpoint_id} not found")
    return row


def _checked_headers(headers: dict[str, str]) -> dict[str, str]:
    reserved = sorted(h for h in headers if h.lower() in RESERVED_HEADERS)
    if reserved:
        raise Unprocessable(
            f"headers set by the sender cannot be replaced: {', '.join(reserved)}",
            code="WEBHOOK_HEADER_RESERVED",
        )
    return headers


def custom_headers(vault: Vault, row: WebhookEndpoint) -> dict[str, str]:
    if row.headers_encrypted is None:
        return {}
    parsed: dict[str, str] = orjson.loads(vault.decrypt(row.headers_encrypted, row.id))
    return parsed


def _store_headers(vault: Vault, row: WebhookEndpoint, headers: dict[str, str]) -> None:
    row.headers_encrypted = (
        vault.encrypt(orjson.dumps(headers).decode(), row.id) if headers else None
    )


async def create(
    session: AsyncSession, vault: Vault, settings: Settings, who: Principal, body: WebhookCreate
) -> WebhookEndpoint:
    url = check_url(body.url, settings.webhooks_allow_private)
    row_id = new_id("wh")
    now = utcnow()
    row = WebhookEndpoint(
        id=row_id,
        business_id=who.business_id,
        mode=who.mode,
        url=url,
        description=body.description or "",
        metadata_=dict(body.metadata or {}),
        filter_types=list(body.filter_types),
        filter_key=filter_key(list(body.filter_types)),
        disabled=bool(body.disabled),
        rate_limit=body.rate_limit,
        rate_window=0,
        rate_count=0,
        secret_encrypted=vault.encrypt(new_secret(), row_id),
        created_at=now,
        updated_at=now,
    )
    headers = _checked_headers(dict(body.headers or {}))
    _store_headers(vault, row, headers)
    session.add(row)
    await session.flush()
    audit.creation(session, row, "webhook_endpoint.created", AUDITED, extra=_names(headers))
    return row


# What the audit log records of an endpoint (never its secret nor a header's value).
AUDITED = (
    "url",
    "description",
    "metadata=metadata_",
    "filter_types",
    "disabled",
    "rate_limit",
)


def _names(headers: dict[str, str]) -> dict[str, object]:
    """Custom headers as the audit log records them: their names, sorted."""
    return {"header_names": sorted(headers)}


async def update(
    session: AsyncSession, settings: Settings, who: Principal, endpoint_id: str, body: WebhookUpdate
) -> WebhookEndpoint:
    row = await get(session, who, endpoint_id)
    before = audit.snapshot(row, AUDITED)
    sent = body.model_fields_set
    if body.url is not None:
        row.url = check_url(body.url, settings.webhooks_allow_private)
    if body.description is not None:
        row.description = body.description
    if body.metadata is not None:
        row.metadata_ = dict(body.metadata)
    if body.filter_types is not None:
        row.filter_types = list(body.filter_types)
        row.filter_key = filter_key(list(body.filter_types))
    if "rate_limit" in sent:
        row.rate_limit = body.rate_limit
    if body.disabled is not None:
        row.disabled = body.disabled
        if not body.disabled:  # enabled again by hand: a fresh start
            row.disabled_reason = None
            row.failing_since = None
    row.updated_at = utcnow()
    await session.flush()
    audit.change(session, row, "webhook_endpoint.updated", AUDITED, before)
    return row


async def endpoints(
    session: AsyncSession, who: Principal, after: str | None, limit: int
) -> list[WebhookEndpoint]:
    """The business's endpoints in this mode, by id, after the id `after`."""
    return await repository.endpoints_after(session, who.business_id, who.mode, after, limit)


async def list_page(
    session: AsyncSession, who: Principal, iterator: str | None, limit: int
) -> WebhookPage:
    rows = await endpoints(session, who, iterator, limit + 1)
    done = len(rows) <= limit
    rows = rows[:limit]
    return WebhookPage(
        data=[to_out(r) for r in rows],
        iterator=None if done or not rows else rows[-1].id,
        done=done,
    )


async def delete(session: AsyncSession, who: Principal, endpoint_id: str) -> None:
    row = await get(session, who, endpoint_id)
    gone = audit.removed(audit.snapshot(row, AUDITED))
    await session.delete(row)
    await session.flush()
    audit.event(session, row, "webhook_endpoint.deleted", gone)


def secret(vault: Vault, row: WebhookEndpoint) -> str:
    return vault.decrypt(row.secret_encrypted, row.id)


def signing_secrets(vault: Vault, row: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one for
    the overlap after a rotation."""
    found = [secret(vault, row)]
    expires = row.previous_secret_expires_at
    if row.previous_secret_encrypted is not None and expires is not None and expires > now:
        found.append(vault.decrypt(row.previous_secret_encrypted, row.id))
    return found


async def rotate_secret(
    session: AsyncSession, vault: Vault, settings: Settings, who: Principal, endpoint_id: str
) -> str:
    """A new secret; the old one keeps signing (beside it) for the overlap (24 h)."""
    row = await get(session, who, endpoint_id)
    now = utcnow()
    fresh = new_secret()
    overlap_ends = row.previous_secret_expires_at
    row.previous_secret_encrypted = row.secret_encrypted
    row.previous_secret_expires_at = now + timedelta(
        seconds=settings.webhooks_secret_overlap_seconds
    )
    row.secret_encrypted = vault.encrypt(fresh, row.id)
    row.updated_at = now
    await session.flush()
    # No secret on the record: when the previous one stops signing beside the new one.
    ends = {"previous_secret_expires_at": (overlap_ends, row.previous_secret_expires_at)}
    audit.event(session, row, "webhook_endpoint.secret_rotated", audit.changes_of(ends))
    return fresh


def headers_out(vault: Vault, row: WebhookEndpoint) -> HeadersOut:
    headers = custom_headers(vault, row)
    return HeadersOut(
        headers={k: v for k, v in headers.items() if not is_sensitive(k)},
        sensitive=sorted(k for k in headers if is_sensitive(k)),
    )


async def update_headers(
    session: AsyncSession, vault: Vault, who: Principal, endpoint_id: str, headers: dict[str, str]
) -> None:
    """Add or replace the given headers (Dodo's PATCH); an empty value removes one."""
    row = await get(session, who, endpoint_id)
    merged = custom_headers(vault, row)
    before = _names(merged)["header_names"]
    lowered = {k.lower(): k for k in merged}
    for name, value in _checked_headers(headers).items():
        old = lowered.get(name.lower())
        if old is not None:
            del merged[old]
        if value:
            merged[name] = value
    _store_headers(vault, row, merged)
    row.updated_at = utcnow()
    await session.flush()
    # Names only (a value may be a credential); the note names the headers sent.
    names = audit.changes_of({"header_names": (before, _names(merged)["header_names"])})
    sent = ", ".join(sorted(headers)) or None
    audit.event(session, row, "webhook_endpoint.headers_changed", names, note=sent)
