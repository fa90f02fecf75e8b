"""The three kinds of license email (key, file, activation code), rendered and sent by the
worker to a real SMTP server; and the outbox row living and dying with the license."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from licensor.auth.dependencies import Principal
from licensor.business import service as business_service
from licensor.config import Settings
from licensor.customer import service as customer_service
from licensor.customer.schemas import CustomerCreate
from licensor.delivery import service as delivery_service
from licensor.delivery.render import Attachment, render_parts
from licensor.delivery.schemas import DeliveryCreate
from licensor.delivery.worker import Worker
from licensor.kit.context import AppContext
from licensor.kit.errors import Unprocessable
from licensor.license_key import service as license_key_service
from licensor.license_key.schemas import LicenseKeyCreate
from licensor.models import EmailJob, LicenseKey
from licensor.product import service as product_service
from licensor.product.schemas import ProductCreate
from tests.mail import SmtpSink
from tests.servers import fresh_postgres_database, migrated

LICENSE_FILE = "-----BEGIN LICENSE-----\neyJsaWNlbnNlZSI6ICJBY21lIn0=\n-----END LICENSE-----\n"


@pytest.fixture
def ctx_settings(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Settings]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        settings = Settings(data_dir=tmp_path, database_url=url)
        migrated(settings)
        yield settings


def test_templates_render_every_kind() -> None:
    base = {"customer_name": "Ann", "product_name": "Widget <Pro>", "business_name": "Acme"}
    subject, text, html = render_parts("key", {**base, "license_key": "ABCDE-12345"})
    assert subject == "Your license key for Widget <Pro>"
    assert "ABCDE-12345" in text
    assert "Widget &lt;Pro&gt;" in html
    assert "device(s)" not in text  # optional fields left out render nothing

    subject, text, html = render_parts(
        "file", {**base, "filename": "acme.gitlab-license", "users_count": 25}
    )
    assert subject == "Your license file for Widget <Pro>"
    assert "attached to this email as acme.gitlab-license" in text
    assert "25 user(s)" in html

    subject, text, html = render_parts(
        "activation_code",
        {**base, "activation_code": "A" * 24, "instructions_url": "https://docs.test/activate"},
    )
    assert subject == "Your activation code for Widget <Pro>"
    assert "A" * 24 in text
    assert "Paste the activation code" in text
    assert 'href="https://docs.test/activate"' in html


async def _tenant(ctx: AppContext) -> tuple[Principal, str]:
    async with ctx.db.write_sessions() as session, session.begin():
        done = await business_service.bootstrap(
            session,
            ctx.vault,
            business_name=f"Kinds {uuid.uuid4().hex[:6]}",
            owner_email="owner@kinds.test",
            mode="live",
        )
        return Principal(done.business.id, "live", done.api_key.row.id), done.business.name


def test_each_kind_is_sent(ctx_settings: Settings) -> None:
    with SmtpSink() as sink:
        settings = ctx_settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": sink.port}
        )

        async def run() -> list[EmailJob]:
            ctx = AppContext.from_settings(settings)
            try:
                who, _ = await _tenant(ctx)
                async with ctx.db.write_sessions() as session, session.begin():
                    common: dict[str, Any] = {
                        "business_id": who.business_id,
                        "mode": who.mode,
                        "licensee_email": "admin@buyer.test",
                    }
                    file_job = await delivery_service.enqueue_license_email(
                        session,
                        ctx,
                        license_id="lfl_1",
                        kind="file",
                        context={
                            "customer_name": "Bea",
                            "product_name": "GitLab Premium",
                            "filename": "buyer.gitlab-license",
                        },
                        attachments=[
                            Attachment(
                                "buyer.gitlab-license",
                                "application/octet-stream",
                                LICENSE_FILE.encode(),
                            )
                        ],
                        **common,
                    )
                    code_job = await delivery_service.enqueue_license_email(
                        session,
                        ctx,
                        license_id="sub_1",
                        kind="activation_code",
                        context={
                            "customer_name": "Bea",
                            "product_name": "GitLab Ultimate",
                            "activation_code": "Q1W2E3R4T5Y6U7I8O9P0A1S2",
                        },
                        **common,
                    )
                assert await Worker(ctx).run_once() == 2
                async with ctx.db.read_sessions() as session:
                    ids = (file_job.id, code_job.id)
                    return list(
                        (
                            await session.scalars(
                                select(EmailJob).where(EmailJob.id.in_(ids)).order_by(EmailJob.kind)
                            )
                        ).all()
                    )
            finally:
                await ctx.close()

        code_job, file_job = asyncio.run(run())
        assert file_job.status == code_job.status == "sent"
        by_id = {r.message_id: r.message for r in sink.handler.received}
        assert file_job.message_id.startswith(f"<{file_job.id}@licensor.")

        letter = by_id[file_job.message_id]
        [attached] = list(letter.iter_attachments())
        assert attached.get_filename() == "buyer.gitlab-license"
        assert attached.get_content_type() == "application/octet-stream"
        assert attached.get_content() == LICENSE_FILE.encode()
        assert "attached to this email" in letter.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        coded = by_id[code_job.message_id]
        assert coded["Subject"] == "Your activation code for GitLab Ultimate"
        assert "Q1W2E3R4T5Y6U7I8O9P0A1S2" in coded.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Q1W2E3R4T5Y6U7I8O9P0A1S2" in coded.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert list(coded.iter_attachments()) == []


def test_outbox_row_commits_and_rolls_back_with_the_license(ctx_settings: Settings) -> None:
    class Boom(Exception):
        pass

    async def run() -> tuple[int, int, bytes]:
        ctx = AppContext.from_settings(ctx_settings)
        try:
            who, _ = await _tenant(ctx)
            async with ctx.db.write_sessions() as session, session.begin():
                product = await product_service.create(session, who, ProductCreate(name="W"))
                customer = await customer_service.create(
                    session, who, CustomerCreate(email="c@buyer.test", name="C")
                )
            for fail in (True, False):
                with pytest.raises(Boom) if fail else _nothing():
                    async with ctx.db.write_sessions() as session, session.begin():
                        key = await license_key_service.create(
                            session,
                            ctx.vault,
                            who,
                            LicenseKeyCreate(customer_id=customer.id, product_id=product.id),
                        )
                        await delivery_service.send_license_key(
                            session, ctx, who, key.id, DeliveryCreate()
                        )
                        if fail:
                            raise Boom
            async with ctx.db.read_sessions() as session:
                keys = await session.scalar(
                    select(func.count())
                    .select_from(LicenseKey)
                    .where(LicenseKey.business_id == who.business_id)
                )
                job = await session.scalar(
                    select(EmailJob).where(EmailJob.business_id == who.business_id)
                )
                assert job is not None
                jobs = await session.scalar(
                    select(func.count())
                    .select_from(EmailJob)
                    .where(EmailJob.business_id == who.business_id)
                )
                return int(keys or 0), int(jobs or 0), job.payload_encrypted
        finally:
            await ctx.close()

    keys, jobs, payload = asyncio.run(run())
    assert (keys, jobs) == (1, 1)  # the failed transaction left neither
    assert b"license_key" not in payload  # the key is stored encrypted in the outbox


def test_enqueue_refuses_bad_kinds_and_templates(ctx_settings: Settings) -> None:
    async def run() -> list[str]:
        ctx = AppContext.from_settings(ctx_settings)
        codes = []
        try:
            who, _ = await _tenant(ctx)
            for kind, template in (("pdf", None), ("key", "../etc/passwd"), ("key", "nope")):
                async with ctx.db.write_sessions() as session:
                    try:
                        await delivery_service.enqueue_license_email(
                            session,
                            ctx,
                            business_id=who.business_id,
                            mode=who.mode,
                            license_id="x",
                            kind=kind,
                            licensee_email="a@b.test",
                            context={},
                            template=template,
                        )
                    except Unprocessable as exc:
                        codes.append(exc.code)
                    await session.rollback()
        finally:
            await ctx.close()
        return codes

    assert asyncio.run(run()) == ["INVALID_KIND", "UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
