"""The license desk wired to email delivery: a desk license emailed from the transaction
that creates it (or duplicates it, or sends it to another address with a reason), against
a real `licensor serve` and a real SMTP server (aiosmtpd), on SQLite and PostgreSQL.
Activation codes and the CLI: tests/test_desk_delivery_codes.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from licensor import verifier
from licensor.auth.dependencies import Principal
from licensor.delivery import repository as delivery_repository
from licensor.kit.context import AppContext
from licensor.license_desk import rules
from licensor.license_desk import service as desk
from licensor.license_desk.schemas import LicenseCreate
from licensor.models import DeskLicense
from tests.desk_helpers import error, legacy_body, ok, setup
from tests.desk_mail_helpers import (
    FILE_TYPE,
    arrived,
    attachment,
    deliveries_of,
    jwks,
    rows_of,
    text_of,
    unique,
)
from tests.mail import SmtpSink, owner_of, wait_for
from tests.servers import Server, Tenant


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
