"""Webhook deliveries through the worker as its own process (`licensor worker`, no SMTP):
kill -9 in the middle of a batch loses no event; the next worker sends the rest."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from licensor.auth.dependencies import Principal
from licensor.business import service as business_service
from licensor.config import Settings
from licensor.customer import service as customer_service
from licensor.customer.schemas import CustomerCreate
from licensor.kit import migrate
from licensor.kit.context import AppContext
from licensor.license_key import service as license_key_service
from licensor.license_key.schemas import LicenseKeyCreate
from licensor.product import service as product_service
from licensor.product.schemas import ProductCreate
from licensor.webhooks import service as webhook_service
from licensor.webhooks.schemas import WebhookCreate
from tests.servers import fresh_postgres_database
from tests.webhook_helpers import Receiver, receiver
from tests.zygote import Process, licensor_process


@pytest.fixture
def settings(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Settings]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        found = Settings(data_dir=tmp_path, database_url=url, webhooks_allow_private=True)
        migrate.upgrade(found.resolved_database_url)
        yield found


def queue_events(settings: Settings, url: str, count: int) -> None:
    """An endpoint, then `count` license keys: each queues its `license_key.created`."""

    async def make() -> None:
        ctx = AppContext.from_settings(settings)
        try:
            async with ctx.db.write_sessions() as session, session.begin():
                done = await business_service.bootstrap(
                    session,
                    ctx.vault,
                    business_name=f"Crash {uuid.uuid4().hex[:6]}",
                    owner_email="owner@crash.test",
                    mode="test",
                )
                who = Principal(done.business.id, "test", done.api_key.row.id)
                await webhook_service.create(
                    session, ctx.vault, settings, who, WebhookCreate(url=url)
                )
                product = await product_service.create(session, who, ProductCreate(name="W"))
                customer = await customer_service.create(
                    session, who, CustomerCreate(email="crash@buyer.test", name="C")
                )
                for _ in range(count):
                    body = LicenseKeyCreate(customer_id=customer.id, product_id=product.id)
                    await license_key_service.create(session, ctx.vault, who, body)
        finally:
            await ctx.close()

    asyncio.run(make())


def start_worker(settings: Settings) -> Process:
    env = {
        **os.environ,
        "LICENSOR_DATA_DIR": str(settings.data_dir),
        "LICENSOR_DATABASE_URL": settings.resolved_database_url,
        "LICENSOR_WEBHOOKS_ALLOW_PRIVATE": "true",
        "LICENSOR_WEBHOOKS_CONCURRENCY": "1",
        "LICENSOR_WEBHOOKS_LEASE_SECONDS": "2",
        "LICENSOR_MAIL_POLL_SECONDS": "0.2",
    }
    env.pop("LICENSOR_SMTP_HOST", None)
    return licensor_process(["worker"], env=env)


def wait_until(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ids(inbox: Receiver) -> list[str]:
    return [r.headers["webhook-id"] for r in inbox.at("/crash")]


def test_kill_9_mid_batch_loses_no_event(settings: Settings) -> None:
    with receiver() as inbox:
        inbox.delay = 0.5  # each answer takes half a second: the kill lands mid-request
        queue_events(settings, inbox.url("/crash"), 6)
        first = start_worker(settings)
        try:
            wait_until(lambda: len(inbox.at("/crash")) >= 2, "two deliveries")
            first.kill()  # SIGKILL: no clean-up of any kind
            first.wait()
        finally:
            if first.poll() is None:
                first.kill()
        taken_in = len(set(ids(inbox)))
        assert taken_in < 6  # killed in the middle of the batch
        second = start_worker(settings)
        try:  # the one in flight comes back when its lease (2 s) runs out
            wait_until(lambda: len(set(ids(inbox))) == 6, "every event", timeout=90)
        finally:
            second.terminate()
            second.wait(timeout=15)
        assert len(ids(inbox)) <= 7  # at most the one in flight twice, same webhook-id
