"""The license desk wired to email delivery: a desk license (or a cloud subscription's
activation code) emailed from the transaction that creates it, against a real
`licensor serve` and a real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from licensor import verifier
from licensor.auth.dependencies import Principal
from licensor.delivery import repository as delivery_repository
from licensor.kit.context import AppContext
from licensor.kit.db import open_database
from licensor.license_desk import rules
from licensor.license_desk import service as desk
from licensor.license_desk.schemas import LicenseCreate
from licensor.models import DeskLicense, EmailJob
from tests import cli_helpers
from tests.desk_helpers import error, legacy_body, ok, setup
from tests.mail import Received, SmtpSink, owner_of, wait_for
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


def test_legacy_license_with_send_email_arrives_with_a_verifiable_file(
    shop: Tenant, sink: SmtpSink
) -> None:
    address = unique()
    with shop.http() as client:
        p, c, s = setup(client)
        body = {**legacy_body(p, c, s), "email": address, "send_email": True}
        lic = ok(client.post("/licenses", json=body), 201)
        (received,) = arrived(sink, address)
        filename, content_type, content = attachment(received)
        assert filename == f"{lic['id']}.license"
        assert content_type == FILE_TYPE
        served = client.get(f"/licenses/{lic['id']}/file")
        assert served.status_code == 200, served.text
        assert content == served.content  # the bytes GET .../file gives
        payload = verifier.verify_license_file(content, jwks(client, shop), mode="test")
        assert payload.id == lic["id"]
        assert payload.licensee.email == address
        assert payload.users_count == 25
        assert "Premium" in str(received.message["Subject"])
        assert f"attached to this email as {filename}" in text_of(received)
        assert received.envelope_to == [address]

        items = wait_for(
            lambda: (
                (d := deliveries_of(client, f"/licenses/{lic['id']}"))
                and d[0]["status"] == "sent"
                and d
            ),
            what="the delivery to be sent",
        )
        assert len(items) == 1
        (item,) = items
        assert item["kind"] == "file"
        assert item["license_id"] == lic["id"]
        assert item["recipient"] == address
        assert item["redirected"] is False
        assert item["attempts"] == 1
        assert item["last_error"] is None


def test_without_send_email_nothing_is_sent_and_duplicate_sends_when_asked(
    shop: Tenant, sink: SmtpSink
) -> None:
    address = unique()
    with shop.http() as client:
        p, c, s = setup(client)
        lic = ok(client.post("/licenses", json={**legacy_body(p, c, s), "email": address}), 201)
        bad = client.post("/licenses", json={**legacy_body(p, c, s), "send_email": "yes"})
        error(bad, 422, "VALIDATION_ERROR")
        time.sleep(1.0)  # the worker polls every 0.2 s: nothing was queued
        assert sink.handler.to(address) == []
        assert deliveries_of(client, f"/licenses/{lic['id']}") == []

        copy = ok(
            client.post(
                f"/licenses/{lic['id']}/duplicate",
                json={"notes": "Seats added, ticket 7", "users_count": 40, "send_email": True},
            ),
            201,
        )
        (received,) = arrived(sink, address)
        filename, _, content = attachment(received)
        assert filename == f"{copy['id']}.license"
        payload = verifier.verify_license_file(content, jwks(client, shop), mode="test")
        assert (payload.id, payload.users_count) == (copy["id"], 40)
        assert deliveries_of(client, f"/licenses/{lic['id']}") == []
        assert len(deliveries_of(client, f"/licenses/{copy['id']}")) == 1


class Abort(Exception):
    pass


def test_license_and_its_email_commit_or_roll_back_together(
    mail_server: Server, shop: Tenant
) -> None:
    with shop.http() as client:
        p, c, s = setup(client)
    body = LicenseCreate.model_validate(
        {**legacy_body(p, c, s), "email": unique(), "send_email": True}
    )
    who = Principal(shop.business_id, "test", "test")
    issuer = rules.Issuer("staff", "tests")

    async def abandoned(ctx: AppContext, found: list[str]) -> None:
        async with ctx.db.write_sessions() as session, session.begin():
            row = await desk.issue(session, ctx, who, body, issuer)
            jobs = await delivery_repository.list_for_license(
                session, who.business_id, who.mode, row.id
            )
            assert [(j.kind, j.status) for j in jobs] == [("file", "queued")]
            found.append(row.id)
            raise Abort  # anything failing later in the request

    async def run() -> tuple[str, str]:
        ctx = AppContext.from_settings(mail_server.settings)
        try:
            found: list[str] = []
            with pytest.raises(Abort):
                await abandoned(ctx, found)
            async with ctx.db.read_sessions() as session:
                assert await session.get(DeskLicense, found[0]) is None
                assert not await delivery_repository.list_for_license(
                    session, who.business_id, who.mode, found[0]
                )
            async with ctx.db.write_sessions() as session, session.begin():
                row = await desk.issue(session, ctx, who, body, issuer)
                kept = row.id
            async with ctx.db.read_sessions() as session:
                jobs = await delivery_repository.list_for_license(
                    session, who.business_id, who.mode, kept
                )
                return kept, jobs[0].license_id
        finally:
            await ctx.close()

    kept, job_license = asyncio.run(run())
    assert job_license == kept


def test_staff_and_reseller_recipients_are_refused_before_anything_is_written(
    mail_server: Server, shop: Tenant, sink: SmtpSink
) -> None:
    staff_owner = owner_of(mail_server, shop)
    with shop.http() as client:
        ok(
            client.put(
                "/mail_settings",
                json={"staff_domains": ["acme-staff.test"], "reseller_domains": ["resell.test"]},
            )
        )
        p, c, s = setup(client)
        before = rows_of(mail_server, shop)
        for address, code in (
            (staff_owner, "RECIPIENT_IS_STAFF"),
            ("eng@acme-staff.test", "RECIPIENT_IS_STAFF"),
            ("eng@eu.acme-staff.test", "RECIPIENT_IS_STAFF"),
            ("orders@resell.test", "RECIPIENT_IS_RESELLER"),
        ):
            body = {**legacy_body(p, c, s), "email": address, "send_email": True}
            error(client.post("/licenses", json=body), 422, code)
        assert rows_of(mail_server, shop) == before  # neither a license nor a job

        # Without send_email the license exists, but it still cannot be mailed there.
        lic = ok(
            client.post("/licenses", json={**legacy_body(p, c, s), "email": "x@resell.test"}),
            201,
        )
        error(client.post(f"/licenses/{lic['id']}/deliveries"), 422, "RECIPIENT_IS_RESELLER")
        dup = {"notes": "copy", "send_email": True}
        error(
            client.post(f"/licenses/{lic['id']}/duplicate", json=dup), 422, "RECIPIENT_IS_RESELLER"
        )
        assert rows_of(mail_server, shop) == (before[0] + 1, before[1])
    assert sink.handler.to("x@resell.test") == []


def test_another_address_needs_a_reason_and_deliveries_can_be_resent(
    mail_server: Server, shop: Tenant, sink: SmtpSink
) -> None:
    address, elsewhere = unique(), unique("it-dept.test")
    with shop.http() as client:
        p, c, s = setup(client)
        lic = ok(client.post("/licenses", json={**legacy_body(p, c, s), "email": address}), 201)
        path = f"/licenses/{lic['id']}"
        error(client.post(f"{path}/deliveries", json={"to": elsewhere}), 422, "REASON_REQUIRED")
        error(
            client.post(f"{path}/deliveries", json={"to": elsewhere, "reason": "  "}),
            422,
            "VALIDATION_ERROR",
        )
        error(client.post("/licenses/dlc_nope/deliveries"), 404, "LICENSE_NOT_FOUND")
        assert deliveries_of(client, path) == []

        moved = ok(
            client.post(
                f"{path}/deliveries",
                json={"to": elsewhere, "reason": "Licensee on leave, ticket 99"},
            ),
            202,
        )
        assert moved["status"] == "queued"
        assert (moved["redirected"], moved["reason"]) == (True, "Licensee on leave, ticket 99")
        assert moved["licensee_email"] == address
        (received,) = arrived(sink, elsewhere)
        assert attachment(received)[0] == f"{lic['id']}.license"
        assert sink.handler.to(address) == []

        wait_for(lambda: deliveries_of(client, path)[0]["status"] == "sent", what="sent")
        again = ok(client.post(f"{path}/deliveries/{moved['id']}/resend"), 202)
        assert again["resend_of"] == moved["id"]
        assert again["recipient"] == elsewhere
        assert again["reason"] == moved["reason"]
        second = arrived(sink, elsewhere, 2)[1]
        assert attachment(second) == attachment(received)
        assert second.message_id != received.message_id
        error(client.post(f"{path}/deliveries/eml_nope/resend"), 404, "DELIVERY_NOT_FOUND")

        items = deliveries_of(client, path)
        assert [i["id"] for i in items] == [moved["id"], again["id"]]
        assert all(i["kind"] == "file" for i in items)

    other = mail_server.tenant()
    with other.http() as client:
        error(client.get(f"{path}/deliveries"), 404, "LICENSE_NOT_FOUND")
        error(client.post(f"{path}/deliveries/{moved['id']}/resend"), 404, "LICENSE_NOT_FOUND")


def test_activation_code_email_arrives_with_the_code(
    mail_server: Server, shop: Tenant, sink: SmtpSink
) -> None:
    address = unique("cloud.test")
    with shop.http() as client:
        p, _, s = setup(client)
        cust = ok(client.post("/customers", json={"email": address, "name": "Cloe Cloud"}))
        cloud = {
            "customer_id": cust["customer_id"],
            "plan_code": p["code"],
            "users_count": 5,
            "starts_at": s["starts_at"],
            "expires_at": s["expires_at"],
            "cloud_licensing": "Yes",
            "seat_reconciliation": True,
        }
        sub = ok(client.post("/subscriptions", json=cloud), 201)
        time.sleep(1.0)
        assert sink.handler.to(address) == []  # created without send_email: nothing sent

        made = ok(
            client.post(f"/subscriptions/{sub['id']}/activation_code", json={"send_email": True}),
            201,
        )
        code = made["activation_code"]
        assert made["delivery"]["kind"] == "activation_code"
        assert made["delivery"]["recipient"] == address
        (received,) = arrived(sink, address)
        text = text_of(received)
        assert code in text
        assert "Paste the activation code" in text
        assert "Cloe Cloud" in text
        assert list(received.message.iter_attachments()) == []
        items = deliveries_of(client, f"/subscriptions/{sub['id']}")
        assert [i["id"] for i in items] == [made["delivery"]["id"]]

        plain = ok(client.post(f"/subscriptions/{sub['id']}/activation_code"), 201)
        assert plain["delivery"] is None

        # A subscription created with send_email gets its first code emailed.
        other = unique("cloud.test")
        cust2 = ok(client.post("/customers", json={"email": other, "name": "Otto"}))
        sub2 = ok(
            client.post(
                "/subscriptions",
                json={**cloud, "customer_id": cust2["customer_id"], "send_email": True},
            ),
            201,
        )
        shown = ok(client.get(f"/subscriptions/{sub2['id']}/activation_code"))
        assert shown["activation_code"] in text_of(arrived(sink, other)[0])

        # Not cloud licensing Yes: refused, and no code was made.
        offline = ok(
            client.post(
                "/subscriptions",
                json={**cloud, "cloud_licensing": "Offline"},
            ),
            201,
        )
        refused = client.post(
            f"/subscriptions/{offline['id']}/activation_code", json={"send_email": True}
        )
        error(refused, 409, "CLOUD_LICENSING_NOT_ENABLED")
        error(
            client.get(f"/subscriptions/{offline['id']}/activation_code"),
            404,
            "ACTIVATION_CODE_NOT_FOUND",
        )

        # The customer's address at a staff domain: refused, and the old code stays live.
        ok(client.put("/mail_settings", json={"staff_domains": ["cloud.test"]}))
        error(
            client.post(f"/subscriptions/{sub['id']}/activation_code", json={"send_email": True}),
            422,
            "RECIPIENT_IS_STAFF",
        )
        current = ok(client.get(f"/subscriptions/{sub['id']}/activation_code"))
        assert current["activation_code"] == plain["activation_code"]


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


def test_cli_creates_with_send_and_shows_the_deliveries(
    mail_server: Server, shop: Tenant, sink: SmtpSink
) -> None:
    address = unique()
    biz = ["--business-id", shop.business_id]
    with shop.http() as client:
        p, c, s = setup(client)
        body = legacy_body(p, c, s)
        keys = jwks(client, shop)
    args = [
        "licenses",
        "create",
        *biz,
        "--license-type=legacy",
        "--name=Lee Licensee",
        "--company=Acme Ltd",
        f"--email={address}",
        "--users-count=12",
        f"--plan-code={body['plan_code']}",
        f"--starts-at={body['starts_at']}",
        f"--expires-at={body['expires_at']}",
        f"--customer-id={body['customer_id']}",
        f"--subscription-id={body['subscription_id']}",
        "--notes=Issued from the CLI, ticket 5",
        "--send",
    ]
    lic = cli_json(mail_server, *args)
    (received,) = arrived(sink, address)
    filename, _, content = attachment(received)
    assert filename == f"{lic['id']}.license"
    assert verifier.verify_license_file(content, keys, mode="test").users_count == 12

    wait_for(
        lambda: [d["status"] for d in cli_deliveries(mail_server, lic["id"])] == ["sent"],
        what="the CLI to show the delivery as sent",
    )
    sent = cli_json(
        mail_server, "licenses", "send", lic["id"], "--to", "ops@it-dept.test", "--reason", "IT"
    )
    assert (sent["recipient"], sent["reason"], sent["kind"]) == ("ops@it-dept.test", "IT", "file")
    arrived(sink, "ops@it-dept.test")
    listed = cli_deliveries(mail_server, lic["id"])
    assert [d["recipient"] for d in listed] == [address, "ops@it-dept.test"]


def test_cli_resends_a_desk_delivery_and_emails_an_activation_code(
    mail_server: Server, shop: Tenant, sink: SmtpSink
) -> None:
    address, cloud_address = unique(), unique("cloud.test")
    biz = ["--business-id", shop.business_id]
    with shop.http() as client:
        p, c, s = setup(client)
        body = {**legacy_body(p, c, s), "email": address, "send_email": True}
        lic = ok(client.post("/licenses", json=body), 201)
        cust = ok(client.post("/customers", json={"email": cloud_address, "name": "Cleo"}))
        sub = ok(
            client.post(
                "/subscriptions",
                json={
                    "customer_id": cust["customer_id"],
                    "plan_code": p["code"],
                    "users_count": 3,
                    "starts_at": s["starts_at"],
                    "expires_at": s["expires_at"],
                    "cloud_licensing": "Yes",
                    "seat_reconciliation": True,
                },
            ),
            201,
        )
    (first,) = arrived(sink, address)
    wait_for(
        lambda: [d["status"] for d in cli_deliveries(mail_server, lic["id"])] == ["sent"],
        what="the delivery to be sent",
    )
    (sent,) = cli_deliveries(mail_server, lic["id"])
    again = cli_json(mail_server, "licenses", "resend", lic["id"], sent["id"])
    assert again["resend_of"] == sent["id"]
    second = arrived(sink, address, 2)[1]
    assert attachment(second) == attachment(first)

    made = cli_json(
        mail_server, "subscriptions", "activation-code", sub["id"], *biz, "--regenerate", "--send"
    )
    assert made["delivery"]["recipient"] == cloud_address
    (received,) = arrived(sink, cloud_address)
    assert made["activation_code"] in text_of(received)
