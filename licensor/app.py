"""The ASGI application: FastAPI for the management API, a thin handler for the hot path."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from licensor import __version__
from licensor.audit.router import router as audit_events
from licensor.config import Settings, get_settings
from licensor.console.app import install_console
from licensor.customer.router import router as customers
from licensor.delivery.router import router as delivery
from licensor.delivery.worker import BackgroundWorker, announce_mail
from licensor.idempotency.store import IdempotencyKeys
from licensor.instance_keys.asgi import PATH as CHECKIN_PATH
from licensor.instance_keys.asgi import InstanceCheckinRoute
from licensor.instance_keys.checkin import close_checkins
from licensor.instance_keys.router import router as instance_keys
from licensor.kit import edge
from licensor.kit.apidocs import install_docs
from licensor.kit.context import AppContext
from licensor.kit.handlers import RejectNulCharacters, install_error_handlers
from licensor.kit.hotstore import open_hot
from licensor.kit.idempotency import IdempotencyLayer
from licensor.kit.origin import RequestIds
from licensor.kit.ratelimit import RateLimiter
from licensor.kit.responses import ORJSONResponse
from licensor.kit.tenancy import ModeFace
from licensor.license_desk.app import router as license_desk
from licensor.license_key.fast import ChecksSlot, FastLicenseRoutes
from licensor.license_key.instance_router import router as instances
from licensor.license_key.public_router import router as licenses
from licensor.license_key.public_service import LicenseChecks
from licensor.license_key.router import router as license_keys
from licensor.license_key.store import license_store
from licensor.orgs.router import router as orgs
from licensor.product.router import router as products
from licensor.signing.hot import HotSigner
from licensor.signing.router import router as signing
from licensor.webhooks.hot import HotOutbox
from licensor.webhooks.router import router as webhooks

DESCRIPTION = """Licensor's management API. Its paths and JSON shapes follow Dodo Payments'
license-key API, so Dodo's Python SDK works against it unchanged. Errors are always
`{"code": "...", "message": "..."}`. The `/licenses/*` routes need no API key.

The root serves **live mode** only; the same API under `/test` serves **test mode** only
(a key, code or API key of the other mode is unknown there).

Every POST made with an API key takes an `Idempotency-Key` header (up to 255 characters): a
retry with the same key and request replays the first answer (`Idempotent-Replayed:
true`); the same key for another request is `422 IDEMPOTENCY_KEY_REUSED`, and one whose
first request is still running `409 IDEMPOTENCY_KEY_IN_USE`. Keys are kept 24 hours."""


# Not management POSTs: the public checks and the check-in take no Idempotency-Key, on
# their thin paths or (LICENSOR_FAST_PATH=false) through FastAPI.
NOT_IDEMPOTENT = frozenset(
    {
        "/licenses/validate",
        "/licenses/activate",
        "/licenses/deactivate",
        "/licenses/heartbeat",
        CHECKIN_PATH,
    }
)


def build_fastapi(settings: Settings, slot: ChecksSlot | None = None) -> FastAPI:
    limiter = RateLimiter(settings)
    idempotency = IdempotencyKeys(
        settings.idempotency_lease_seconds, settings.idempotency_retention_hours
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        ctx = await asyncio.to_thread(AppContext.from_settings, settings)  # off the loop
        hot = await open_hot(
            settings.resolved_database_url, settings.db_pool_size, settings.database_read_url
        )
        app.state.ctx = ctx
        idempotency.ctx = ctx
        app.state.hot = hot  # the hot paths' connections (kit/hotstore.py), one set per process
        outbox = HotOutbox(ctx.vault, settings.webhooks_max_attempts)  # webhooks/hot.py
        # the active signing keys of both hot paths (check-in, validate with a nonce)
        app.state.signer = HotSigner(hot, ctx, settings.signing_key_cache_seconds)
        app.state.license_checks = LicenseChecks(
            license_store(hot, outbox, settings.audit, settings.validate_cache_seconds),
            ctx.vault,
            app.state.signer,
        )
        mail = announce_mail(ctx)  # says on stderr when mail cannot go out
        worker = BackgroundWorker(ctx, mail=mail) if settings.mail_worker else None
        app.state.delivery_worker = worker
        app.state.mail_worker = bool(worker and mail)
        await limiter.start(ctx.vault)
        if slot is not None:
            slot.checks = app.state.license_checks
        # What start-up made (modules, models, routes, the app) lives as long as the
        # process: out of the collector's sight, so that a full collection under load
        # walks only what requests allocate, not the whole heap each time.
        gc.collect()
        gc.freeze()
        try:
            yield {edge.STATE_KEY: edge.limits_of(settings)}  # uvicorn's protocol reads it
        finally:
            if slot is not None:
                slot.checks = None
            close_checkins(app.state)
            if worker is not None:
                await worker.close()
            await limiter.close()
            await hot.close()
            idempotency.ctx = None
            await ctx.close()

    app = FastAPI(
        title="Licensor",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        docs_url=None,  # served from a package (kit/apidocs.py), not a CDN
        redoc_url=None,
    )
    app.state.rate_limiter = limiter
    install_error_handlers(app)
    # Idempotency-Key on the management API's POSTs; inside the NUL check.
    app.add_middleware(IdempotencyLayer, store=idempotency, exempt=NOT_IDEMPOTENT)
    app.add_middleware(RejectNulCharacters)
    app.add_middleware(RequestIds)  # outermost: every answer carries X-Request-Id
    routers = (customers, products, license_keys, instances, licenses, signing, delivery, webhooks)
    for router in (*routers, audit_events, license_desk, orgs, instance_keys):
        app.include_router(router)
    install_console(app)
    install_docs(app)

    @app.get("/health", tags=["Health"])
    async def health() -> dict[str, Any]:
        """Liveness only: anyone may ask, so it tells nothing about any tenant
        (a business's outbox: `GET /mail/health`, with its API key)."""
        return {"status": "ok", "version": __version__}

    return app


def create_app(settings: Settings | None = None) -> Any:
    settings = settings or get_settings()
    if not settings.fast_path:
        return ModeFace(build_fastapi(settings))
    slot = ChecksSlot()
    api = build_fastapi(settings, slot)
    return ModeFace(
        InstanceCheckinRoute(FastLicenseRoutes(api, slot, api.state.rate_limiter), api.state)
    )
