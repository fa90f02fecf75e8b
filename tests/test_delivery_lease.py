"""Leases, in process on both databases: a live lease is respected, an expired one is
taken over, and a job whose worker died on its last allowed attempt ends as failed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from licensor.config import Settings
from licensor.delivery import service as delivery_service
from licensor.delivery.worker import Worker, backoff
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.models import Business, EmailJob
from tests.mail import SmtpSink
from tests.servers import fresh_postgres_database, migrated


@pytest.fixture
def settings(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Settings]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        s = Settings(data_dir=tmp_path, database_url=url)
        migrated(s)
        yield s


async def _queue(ctx: AppContext, addresses: list[str]) -> list[str]:
    async with ctx.db.write_sessions() as session, session.begin():
        session.add(Business(id="bus_lease", name="Lease Co", brand_id="brd_lease"))
        await session.flush()
        ids = []
        for address in addresses:
            job = await delivery_service.enqueue_license_email(
                session,
                ctx,
                business_id="bus_lease",
                mode="live",
                license_id="lic_lease",
                kind="key",
                licensee_email=address,
                context={"customer_name": "L", "product_name": "P", "license_key": "K"},
            )
            ids.append(job.id)
        return ids


def test_leases(settings: Settings) -> None:
    with SmtpSink() as sink:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": sink.port})

        async def run() -> dict[str, EmailJob]:
            ctx = AppContext.from_settings(configured)
            try:
                live, expired, exhausted = await _queue(
                    ctx, ["live@b.test", "expired@b.test", "exhausted@b.test"]
                )
                now = utcnow()
                async with ctx.db.write_sessions() as session, session.begin():
                    for job_id, until, attempts in (
                        (live, now + timedelta(minutes=5), 1),
                        (expired, now - timedelta(seconds=1), 1),
                        (exhausted, now - timedelta(seconds=1), 8),
                    ):
                        job = await session.get(EmailJob, job_id)
                        assert job is not None
                        job.status, job.locked_until, job.attempts = "sending", until, attempts
                        job.locked_by = "dead-worker:1"
                assert await Worker(ctx, name="w2").run_once() == 1
                async with ctx.db.read_sessions() as session:
                    rows = (await session.scalars(select(EmailJob))).all()
                    return {r.recipient: r for r in rows}
            finally:
                await ctx.close()

        jobs = asyncio.run(run())
    assert [r.envelope_to for r in sink.handler.received] == [["expired@b.test"]]
    assert jobs["expired@b.test"].status == "sent"
    assert jobs["expired@b.test"].attempts == 2
    assert jobs["live@b.test"].status == "sending"  # still leased to its worker: untouched
    assert jobs["exhausted@b.test"].status == "failed"
    assert jobs["exhausted@b.test"].last_error == "the worker stopped during the attempt"


def test_backoff_is_exponential_and_capped() -> None:
    s = Settings(mail_retry_base_seconds=10, mail_retry_max_seconds=100)
    assert [backoff(s, n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 100]


def test_settings_refuse_nonsense() -> None:
    for bad in ({"mail_max_attempts": 0}, {"smtp_tls": "ssl"}, {"smtp_port": 0}):
        with pytest.raises(ValueError, match="validation error"):
            Settings(**bad)
