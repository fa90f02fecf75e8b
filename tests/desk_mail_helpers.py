"""Helpers for the tests of the desk's email delivery (tests/test_desk_delivery*.py): what
arrived at the SMTP sink, its attachment and text, the deliveries as the API and the CLI
list them, and the rows a tenant has."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from licensor.kit.db import open_database
from licensor.models import DeskLicense, EmailJob
from tests import cli_helpers
from tests.desk_helpers import ok
from tests.mail import Received, SmtpSink, wait_for
from tests.servers import Server, Tenant

FILE_TYPE = "application/x-licensor-license"


def unique(domain: str = "licensee.test") -> str:
    return f"lee-{uuid.uuid4().hex[:10]}@{domain}"


def arrived(sink: SmtpSink, address: str, count: int = 1) -> list[Received]:
    got: list[Received] = wait_for(
        lambda: (r := sink.handler.to(address)) and len(r) >= count and r,
        what=f"{count} email(s) to {address}",
    )
    return got


def attachment(received: Received) -> tuple[str, str, bytes]:
    parts = list(received.message.iter_attachments())
    assert len(parts) == 1, [p.get_filename() for p in parts]
    part = parts[0]
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return str(part.get_filename()), part.get_content_type(), content


def text_of(received: Received) -> str:
    body = received.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def jwks(client: httpx.Client, tenant: Tenant) -> Any:
    return ok(client.get(f"/.well-known/jwks/{tenant.business_id}/test.json"))


def deliveries_of(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(client.get(f"{path}/deliveries"))["items"]
    return items


def rows_of(server: Server, tenant: Tenant) -> tuple[int, int]:
    """How many desk licenses and email jobs the tenant has, read from the database."""

    async def count() -> tuple[int, int]:
        db = open_database(server.settings.resolved_database_url)
        try:
            async with db.read_sessions() as session:
                licenses = await session.scalar(
                    select(func.count())
                    .select_from(DeskLicense)
                    .where(DeskLicense.business_id == tenant.business_id)
                )
                jobs = await session.scalar(
                    select(func.count())
                    .select_from(EmailJob)
                    .where(EmailJob.business_id == tenant.business_id)
                )
        finally:
            await db.dispose()
        return int(licenses or 0), int(jobs or 0)

    return asyncio.run(count())


def cli(server: Server, *args: str) -> str:
    done = cli_helpers.cli(server, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def cli_json(server: Server, *args: str) -> Any:
    return json.loads(cli(server, *args))


def cli_deliveries(server: Server, license_id: str) -> list[dict[str, Any]]:
    """`licensor licenses deliveries ID`: one JSON object a line."""
    return [
        json.loads(line) for line in cli(server, "licenses", "deliveries", license_id).splitlines()
    ]
