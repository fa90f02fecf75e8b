"""Air-gapped activation (docs/machines.md), the machine files: a machine with no network writes an
activation request (`licensor/verifier/request.py`); support uploads it (the API's
`POST /license_keys/offline_activations`, `licensor license-keys activate-offline`, the
console) and gets back a license file of type `machine` bound to that machine.

The activation is the public checks' own (`LicenseChecks.seat`: the key usable, the
product's fingerprint matching, a seat within the limit, the `license_key_instance.
activated` event and webhook) with the request taken in the same transaction
(`hot_sql.Claim`: once, by its keyed hash; `ActivationRequestUsed` the second time). The
file is signed by the business's active key, read fresh (the current kid at once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensor import verifier as fmt
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.hotstore import open_hot
from licensor.kit.ids import new_id
from licensor.kit.origin import Origin
from licensor.kit.tenancy import Mode
from licensor.license_desk.licensefile import encode
from licensor.license_key.errors import (
    ActivationRequestExpired,
    ActivationRequestInvalid,
    ActivationRequestNotYetValid,
    LicenseKeyNotFound,
)
from licensor.license_key.hot_sql import Claim
from licensor.license_key.public_schemas import ActivateOut
from licensor.license_key.public_service import LicenseChecks
from licensor.license_key.store import license_store
from licensor.signing.hot import HotSigner
from licensor.verifier.request import (
    REQUEST_LIFETIME,
    ActivationRequest,
    MalformedRequest,
    parse_activation_request,
)
from licensor.webhooks.hot import HotOutbox

REQUEST_PURPOSE = "activation_request"  # the vault's lookup-hash purpose of a request id
WINDOW = REQUEST_LIFETIME  # a request older than this is refused, whatever it says
SKEW = timedelta(hours=1)  # how far ahead of the server a machine's clock may be
TEXT_MAX = 8192  # a request is well under 1 KiB
DEFAULT_NAME = "air-gapped machine"


class KeySource(Protocol):
    """The business's active signing key (the hot signer: `signing/hot.py`)."""

    async def key(
        self, business_id: str, mode: str, fresh: bool = False
    ) -> tuple[str, Ed25519PrivateKey]: ...


@dataclass(frozen=True)
class OfflineActivation:
    license_file: str
    activation_request_id: str  # acr_…
    request_expires_at: datetime
    instance: ActivateOut  # the seat, as `POST /licenses/activate` answers it
    instance_id: str | None  # the machine's own id, as it sent it
    expires_at: datetime | None  # the file's: the key's


def parse(text: str) -> ActivationRequest:
    """The request in the uploaded text; `422 ACTIVATION_REQUEST_INVALID` when it is none."""
    if len(text) > TEXT_MAX:
        raise ActivationRequestInvalid(f"an activation request is at most {TEXT_MAX} characters")
    try:
        return parse_activation_request(text)
    except MalformedRequest as exc:
        raise ActivationRequestInvalid(f"not an activation request: {exc}") from exc


def fresh_until(request: ActivationRequest, now: datetime) -> datetime:
    """When the request stops being usable: its own `expires_at`, at most `WINDOW` after
    its `created_at`. Refused: past that (`ACTIVATION_REQUEST_EXPIRED`), or made more than
    `SKEW` ahead of the server's clock (`ACTIVATION_REQUEST_NOT_YET_VALID`)."""
    if request.created_at > now + SKEW:
        raise ActivationRequestNotYetValid(
            f"the request is dated {request.created_at.isoformat()}, ahead of the server's "
            f"clock by more than {int(SKEW.total_seconds())} s: check the machine's clock"
        )
    until = min(request.expires_at, request.created_at + WINDOW)
    if now >= until:
        raise ActivationRequestExpired(
            f"the request expired at {until.isoformat()}: make a new one on the machine"
        )
    return until


def payload_of(
    request: ActivationRequest,
    seat: ActivateOut,
    mode: str,
    expires_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The signed fields of a `machine` file (docs/license-file-format.md, section 5)."""
    body: dict[str, Any] = {
        "version": fmt.FORMAT_VERSION,
        "id": seat.license_key_id,
        "type": fmt.MACHINE,
        "business_id": seat.business_id,
        "mode": mode,
        "licensee": {"name": seat.customer.name, "company": "", "email": seat.customer.email},
        "plan": {"code": seat.product.product_id, "name": seat.product.name, "features": []},
        "users_count": 1,
        # the machine's own clock made the request: a clock behind the server's still
        # accepts the file
        "starts_at": min(request.created_at, now).isoformat(),
        "expires_at": None if expires_at is None else expires_at.isoformat(),
        "issued_at": now.isoformat(),
        "subscription": None,
        "cloud_instance_id": None,
        "instance_id": request.instance_id,
        "license_key_instance_id": seat.id,
        "product_id": seat.product.product_id,
    }
    if request.fingerprint is not None:
        body["fingerprint"] = request.fingerprint  # as the machine computes it
    return body


async def activate(
    checks: LicenseChecks,
    keys: KeySource,
    business_id: str,
    mode: Mode,
    text: str,
    origin: Origin,
) -> OfflineActivation:
    """Redeem an uploaded request for the business and mode: the same answers as
    `POST /licenses/activate` for its key (404 `LICENSE_KEY_NOT_FOUND` for a key of
    another business, mode or product; 422 disabled, expired, limit reached), 409
    `ACTIVATION_REQUEST_USED` the second time, 422 for a stale or malformed request."""
    request = parse(text)
    now = utcnow().replace(microsecond=0)
    until = fresh_until(request, now)
    row = await checks.find_for_write(request.license_key, mode, request.product_id)
    if row is None or row.business_id != business_id:
        raise LicenseKeyNotFound("license key not found")
    kid, private = await keys.key(row.business_id, row.mode, fresh=True)
    claim = Claim(
        id=new_id("acr"),
        request_hash=checks.vault.lookup_hash(request.request_id, REQUEST_PURPOSE),
        instance_id=request.instance_id,
        requested_at=request.created_at,
        expires_at=until,
    )
    name = request.name or request.instance_id or DEFAULT_NAME
    seat = await checks.seat(row, name, request.fingerprint, origin, claim)
    payload = payload_of(request, seat, row.mode, row.expires_at, now)
    return OfflineActivation(
        license_file=encode(payload, kid, private.sign),
        activation_request_id=claim.id,
        request_expires_at=until,
        instance=seat,
        instance_id=request.instance_id,
        expires_at=row.expires_at,
    )


@asynccontextmanager
async def standalone(ctx: AppContext) -> AsyncIterator[tuple[LicenseChecks, KeySource]]:
    """The checks and the signer on hot connections of their own, for a face that runs
    outside the server (the CLI)."""
    settings = ctx.settings
    hot = await open_hot(settings.resolved_database_url, 2)
    try:
        signer = HotSigner(hot, ctx, 0)
        outbox = HotOutbox(ctx.vault, settings.webhooks_max_attempts)
        checks = LicenseChecks(license_store(hot, outbox, audit=settings.audit), ctx.vault, signer)
        yield checks, signer
    finally:
        await hot.close()
