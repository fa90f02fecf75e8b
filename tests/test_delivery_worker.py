"""The worker as its own process: kill -9 in the middle of a batch loses nothing, and
workers sharing one database never send the same job twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from licensor.auth.dependencies import Principal
from licensor.business import service as business_service
from licensor.config import Settings
from licensor.customer import service as customer_service
from licensor.customer.schemas import CustomerCreate
from licensor.delivery import service as delivery_service
from licensor.delivery.schemas import DeliveryCreate
from licensor.kit.context import AppContext
from licensor.license_key import service as license_key_service
from licensor.license_key.schemas import LicenseKeyCreate
from licensor.models import EmailJob
from licensor.product import service as product_service
from licensor.product.schemas import ProductCreate
from tests.mail import SmtpSink, wait_for
from tests.servers import fresh_postgres_database, migrated
from tests.zygote import Process, licensor_process


@dataclass
class Outbox:
    settings: Settings

    def env(self, sink: SmtpSink, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "LICENSOR_DATA_DIR": str(self.settings.data_dir),
            "LICENSOR_DATABASE_URL": self.settings.resolved_database_url,
            **sink.env(**extra),
        }

    def jobs(self) -> list[EmailJob]:
        async def read() -> list[EmailJob]:
            ctx = AppContext.from_settings(self.settings)
            try:
                async with ctx.db.read_sessions() as session:
                    return list((await session.scalars(select(EmailJob))).all())
            finally:
                await ctx.close()

        return asyncio.run(read())


@pytest.fixture
def outbox(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Outbox]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        settings = Settings(data_dir=tmp_path, database_url=url)
        migrated(settings)
        yield Outbox(settings)


def queue_licenses(outbox: Outbox, count: int) -> list[str]:
    """Create `count` license keys, each with its email queued in the same transaction."""

    async def make() -> list[str]:
        ctx = AppContext.from_settings(outbox.settings)
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
                product = await product_service.create(session, who, ProductCreate(name="Widget"))
                ids = []
                for i in range(count):
                    customer = await customer_service.create(
                        session, who, CustomerCreate(email=f"user{i}@buyer.test", name=f"U{i}")
                    )
                    key = await license_key_service.create(
                        session,
                        ctx.vault,
                        who,
                        LicenseKeyCreate(customer_id=customer.id, product_id=product.id),
                    )
                    job = await delivery_service.send_license_key(
                        session, ctx, who, key.id, DeliveryCreate()
                    )
                    ids.append(job.message_id)
                return ids
        finally:
            await ctx.close()

    return asyncio.run(make())


def start_worker(env: dict[str, str]) -> Process:
    return licensor_process(["worker"], env=env)


def stop(proc: Process) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kill_9_mid_batch_loses_nothing(outbox: Outbox) -> None:
    with SmtpSink() as sink:
        # The server takes each message in at once but answers 250 only after half a
        # second (five of wait_for's polls): killing the worker right after the 4th
        # message arrived kills it while it waits for that answer, so the 4th is in
        # flight: taken in, not recorded as sent.
        sink.handler.delay = 0.5
        message_ids = queue_licenses(outbox, 12)
        env = outbox.env(sink, LICENSOR_MAIL_LEASE_SECONDS="2")
        first = start_worker(env)
        try:
            wait_for(lambda: len(sink.handler.received) >= 4, timeout=60, what="4 emails")
        finally:
            first.kill()  # SIGKILL: no clean-up of any kind
            first.wait()
        jobs = outbox.jobs()
        in_flight = {j.message_id for j in jobs if j.status == "sending"}
        taken_in = {r.message_id for r in sink.handler.received}
        assert len(in_flight) <= 1  # a worker holds one job at a time
        assert len(taken_in) < 12  # killed in the middle of the batch
        assert {j.message_id for j in jobs if j.status == "sent"} <= taken_in

        second = start_worker(env)
        try:
            wait_for(
                lambda: all(j.status == "sent" for j in outbox.jobs()),
                timeout=90,
                what="every job to be sent",
            )
        finally:
            stop(second)

        counts = Counter(r.message_id for r in sink.handler.received)
        assert set(counts) == set(message_ids)  # every email arrived: none lost
        duplicates = {mid for mid, n in counts.items() if n > 1}
        assert duplicates <= in_flight  # only the message in flight, with its Message-ID
        if in_flight <= taken_in:  # the usual case: the kill came while it awaited its 250
            assert duplicates == in_flight
        assert max(counts.values()) <= 2


def test_two_workers_never_send_the_same_job(outbox: Outbox) -> None:
    with SmtpSink() as sink:
        sink.handler.delay = 0.05
        message_ids = queue_licenses(outbox, 30)
        env = outbox.env(sink)
        workers = [start_worker(env) for _ in range(2)]
        try:
            wait_for(lambda: len(sink.handler.received) >= 30, timeout=90, what="30 emails")
            wait_for(
                lambda: all(j.status == "sent" for j in outbox.jobs()),
                timeout=30,
                what="every job to be recorded as sent",
            )
        finally:
            for proc in workers:
                stop(proc)
        counts = Counter(r.message_id for r in sink.handler.received)
        assert set(counts) == set(message_ids)
        assert max(counts.values()) == 1
        assert all(j.attempts == 1 for j in outbox.jobs())
