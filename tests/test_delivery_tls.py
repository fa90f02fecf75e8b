"""SMTP over STARTTLS and implicit TLS, with AUTH credentials, against a real aiosmtpd."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from licensor.config import Settings
from licensor.delivery import service as delivery_service
from licensor.delivery.worker import Worker
from licensor.kit.context import AppContext
from licensor.models import Business, EmailJob
from tests.mail import SinkHandler
from tests.servers import free_port, migrated


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"mailer", b"s3cret")
    return AuthResult(success=ok)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_tls_modes_with_credentials(mode: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = SinkHandler()
    port = free_port()
    tls_args: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True}
        if mode == "starttls"
        # aiosmtpd only sees STARTTLS as TLS for AUTH; implicit TLS is encrypted anyway.
        else {"ssl_context": context, "auth_require_tls": False}
    )
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        **tls_args,
    )
    controller.start()
    try:
        settings = Settings(
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls=mode,
            smtp_username="mailer",
            smtp_password="s3cret",
            smtp_ca_file=str(cert),
        )
        migrated(settings)
        statuses = asyncio.run(_send_two(settings))
    finally:
        controller.stop()
    assert statuses == {"tls@buyer.test": "sent", "wrong@buyer.test": "queued"}
    assert [r.envelope_to for r in handler.received] == [["tls@buyer.test"]]


async def _send_two(settings: Settings) -> dict[str, str]:
    """One job sent with the right password; one with a wrong one stays queued."""
    ctx = AppContext.from_settings(settings)
    try:
        async with ctx.db.write_sessions() as session, session.begin():
            session.add(Business(id="bus_tls", name="TLS Co", brand_id="brd_tls"))
            await session.flush()
            for address in ("tls@buyer.test", "wrong@buyer.test"):
                await delivery_service.enqueue_license_email(
                    session,
                    ctx,
                    business_id="bus_tls",
                    mode="live",
                    license_id=f"lic_{address[:3]}",
                    kind="key",
                    licensee_email=address,
                    context={"customer_name": "T", "product_name": "P", "license_key": "K"},
                )
        async with ctx.db.write_sessions() as session, session.begin():
            wrong = await session.scalar(
                select(EmailJob).where(EmailJob.recipient == "wrong@buyer.test")
            )
            assert wrong is not None
            wrong.next_attempt_at = wrong.next_attempt_at + dt.timedelta(days=1)
        await Worker(ctx).run_once()
        bad = ctx.settings.model_copy(update={"smtp_password": "wrong", "smtp_timeout": 3})
        async with ctx.db.write_sessions() as session, session.begin():
            wrong = await session.scalar(
                select(EmailJob).where(EmailJob.recipient == "wrong@buyer.test")
            )
            assert wrong is not None
            wrong.next_attempt_at = dt.datetime.now(dt.UTC)
        bad_ctx = AppContext(settings=bad, db=ctx.db, vault=ctx.vault, passwords=ctx.passwords)
        await Worker(bad_ctx).run_once()
        async with ctx.db.read_sessions() as session:
            rows = (await session.scalars(select(EmailJob))).all()
            failed = [r for r in rows if r.recipient == "wrong@buyer.test"]
            assert failed[0].last_error  # the refusal is kept on the job, to be retried
            return {r.recipient: r.status for r in rows}
    finally:
        await ctx.close()
