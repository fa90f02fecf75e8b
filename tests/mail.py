"""A real SMTP server for the delivery tests (aiosmtpd), and servers that send to it."""

from __future__ import annotations

import asyncio
import email
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from licensor.config import Settings
from tests.servers import Server, Tenant, free_port, migrated, wait_ready
from tests.zygote import licensor_process


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage
    envelope_from: str = ""

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class SinkHandler:
    """Accepts mail, except the scripted refusals; optionally slow."""

    received: list[Received] = field(default_factory=list)
    attempts: list[tuple[str, str]] = field(default_factory=list)  # (recipient, Message-ID)
    refusals: dict[str, list[str]] = field(default_factory=dict)  # recipient → replies, in order
    rcpt_refusals: dict[str, list[str]] = field(default_factory=dict)  # the same, at RCPT TO
    raw: list[tuple[str, bytes]] = field(default_factory=list)  # (recipient, bytes) per DATA
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)  # what AUTH was given
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            queue = self.rcpt_refusals.get(address.lower())
            refusal = queue.pop(0) if queue else None
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        with self.lock:
            self.logins.append((bytes(auth_data.login), bytes(auth_data.password)))
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        rcpt = envelope.rcpt_tos[0].lower()
        with self.lock:
            self.attempts.append((rcpt, str(message["Message-ID"])))
            self.raw.append((rcpt, bytes(envelope.content)))
            queue = self.refusals.get(rcpt)
            refusal = queue.pop(0) if queue else None
        if refusal is not None:
            return refusal
        with self.lock:  # taken in: like a real MTA, it goes out even if the reply is lost
            received = Received(list(envelope.rcpt_tos), message, str(envelope.mail_from))
            self.received.append(received)
        if self.delay:  # a slow server: the client waits this long for the 250
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [
                r for r in self.received if address.lower() in (a.lower() for a in r.envelope_to)
            ]


class SmtpSink:
    """`auth=True`: the server offers AUTH without TLS (as a careless relay would) and
    records every login, so a test sees a password that went out in clear."""

    def __init__(self, *, auth: bool = False) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        extra: dict[str, Any] = {}
        if auth:
            extra = {"authenticator": self.handler.authenticate, "auth_require_tls": False}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **extra)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "LICENSOR_SMTP_HOST": "127.0.0.1",
            "LICENSOR_SMTP_PORT": str(self.port),
            "LICENSOR_SMTP_TLS": "none",
            "LICENSOR_SMTP_TIMEOUT": "10",
            "LICENSOR_MAIL_FROM": "licenses@licensor.test",
            "LICENSOR_MAIL_SENDER_DOMAINS": "acme.test",
            "LICENSOR_MAIL_DOMAIN": "host.test",
            "LICENSOR_MAIL_RETRY_BASE_SECONDS": "0.3",
            "LICENSOR_MAIL_RETRY_MAX_SECONDS": "1",
            "LICENSOR_MAIL_MAX_ATTEMPTS": "4",
            "LICENSOR_MAIL_POLL_SECONDS": "0.2",
            "LICENSOR_MAIL_LEASE_SECONDS": "5",
            **extra,
        }


def start_server_with(
    backend: str, data_dir: Path, database_url: str | None, env: dict[str, str]
) -> tuple[Server, Path]:
    """`licensor serve` with extra environment; its stderr goes to a file (returned)."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    migrated(settings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(backend, settings, url, [url])
    stderr_path = data_dir / "serve.stderr"
    args = ["serve", "--no-migrate", "--port", str(port)]
    with stderr_path.open("wb") as stderr:
        proc = licensor_process(args, env={**server.env(), **env}, stderr=stderr)
    server.processes.append(proc)
    wait_ready(url, server.processes)
    return server, stderr_path


def wait_for(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Issued:
    key_id: str
    key: str
    customer_email: str


def issue_key(client: httpx.Client, email_address: str, name: str = "Ann Buyer") -> Issued:
    customer = client.post("/customers", json={"email": email_address, "name": name})
    assert customer.status_code == 200, customer.text
    product = client.post(
        "/products",
        json={
            "name": "Widget Pro",
            "license_key_activations_limit": 3,
            "license_key_activation_message": "Paste the key in Settings > License.",
        },
    )
    assert product.status_code == 200, product.text
    key = client.post(
        "/license_keys",
        json={
            "customer_id": customer.json()["customer_id"],
            "product_id": product.json()["product_id"],
        },
    )
    assert key.status_code == 201, key.text
    return Issued(key.json()["id"], key.json()["key"], email_address)


def deliveries(tenant: Tenant, key_id: str) -> list[dict[str, Any]]:
    with tenant.http() as client:
        response = client.get(f"/license_keys/{key_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def mail_health(tenant: Tenant) -> dict[str, Any]:
    """`GET /mail/health` with the tenant's API key: its own outbox."""
    with tenant.http() as client:
        response = client.get("/mail/health")
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def owner_of(server: Server, tenant: Tenant) -> str:
    """The tenant owner's email, read from the server's database."""
    from sqlalchemy import select

    from licensor.kit.db import open_database
    from licensor.models import User

    async def find() -> str:
        db = open_database(server.settings.resolved_database_url)
        try:
            async with db.read_sessions() as session:
                found = await session.scalar(
                    select(User.email).where(User.business_id == tenant.business_id)
                )
        finally:
            await db.dispose()
        assert found is not None
        return found

    return asyncio.run(find())
