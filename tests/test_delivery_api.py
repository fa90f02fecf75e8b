"""License emails over the API, against a real `licensor serve` and a real SMTP server."""

from __future__ import annotations

import time
import uuid

from tests import net
from tests.mail import (
    SmtpSink,
    deliveries,
    issue_key,
    owner_of,
    wait_for,
)
from tests.servers import Server, Tenant


def unique(domain: str = "customer.test") -> str:
    return f"buyer-{uuid.uuid4().hex[:10]}@{domain}"


def test_dodo_create_sends_nothing_and_delivery_sends_the_key(shop: Tenant, sink: SmtpSink) -> None:
    address = unique()
    with shop.http() as client:
        assert (
            client.put(
                "/mail_settings",
                json={
                    "sender_name": "Acme Licensing",
                    "sender_email": "licensing@acme.test",
                    "reply_to": "support@acme.test",
                    "footer": "Acme Corp, 1 Main St <Springfield>",
                    "domain": "acme.test",
                },
            ).status_code
            == 200
        )
        issued = issue_key(client, address)
        time.sleep(1.0)  # the worker polls every 0.2 s: the Dodo route queued nothing
        assert sink.handler.to(address) == []
        assert deliveries(shop, issued.key_id) == []

        created = client.post(f"/license_keys/{issued.key_id}/deliveries")
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] == "queued"
        assert job["recipient"] == address
        assert job["message_id"] == f"<{job['id']}@licensor.acme.test>"

    got = wait_for(lambda: sink.handler.to(address), what="the license email")
    assert len(got) == 1
    msg = got[0].message
    assert msg["Message-ID"] == job["message_id"]
    assert msg["Subject"] == "Your license key for Widget Pro"
    assert msg["From"].addresses[0].addr_spec == "licensing@acme.test"
    assert msg["From"].addresses[0].display_name == "Acme Licensing"
    assert msg["Reply-To"] == "support@acme.test"
    assert msg["To"] == address
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert issued.key in text
    assert issued.key in html
    assert "Hello Ann Buyer" in text
    assert "up to 3 device(s)" in text
    assert "Paste the key in Settings > License." in text
    assert "Acme Corp, 1 Main St <Springfield>" in text
    assert "Acme Corp, 1 Main St &lt;Springfield&gt;" in html  # escaped in HTML

    [done] = wait_for(
        lambda: [d for d in deliveries(shop, issued.key_id) if d["status"] == "sent"],
        what="the delivery to show as sent",
    )
    assert done["attempts"] == 1
    assert done["sent_at"] is not None
    assert done["last_error"] is None
    assert done["redirected"] is False


def test_recipient_rules(shop: Tenant, mail_server: Server) -> None:
    with shop.http() as client:
        assert client.put(
            "/mail_settings",
            json={"staff_domains": ["acme.test"], "reseller_domains": ["@Resell.Test"]},
        ).json()["reseller_domains"] == ["resell.test"]
        mine = issue_key(client, unique())
        path = f"/license_keys/{mine.key_id}/deliveries"

        def refused(body: dict[str, str], status: int, code: str) -> None:
            response = client.post(path, json=body)
            assert response.status_code == status, response.text
            assert response.json()["code"] == code

        refused({"to": unique("other.test")}, 422, "REASON_REQUIRED")
        refused({"to": unique("acme.test"), "reason": "colleague"}, 422, "RECIPIENT_IS_STAFF")
        refused({"to": unique("eu.acme.test"), "reason": "x"}, 422, "RECIPIENT_IS_STAFF")
        refused({"to": unique("resell.test"), "reason": "x"}, 422, "RECIPIENT_IS_RESELLER")
        refused({"to": "not-an-address", "reason": "x"}, 422, "VALIDATION_ERROR")
        refused({"to": unique(), "reason": ""}, 422, "VALIDATION_ERROR")
        # A customer whose own address is a reseller's gets nothing either.
        resold = issue_key(client, unique("resell.test"))
        response = client.post(f"/license_keys/{resold.key_id}/deliveries")
        assert response.json()["code"] == "RECIPIENT_IS_RESELLER"

        # The explicit action: another address, with a reason that is kept.
        other = unique("other.test")
        ok = client.post(path, json={"to": other, "reason": "Ticket 4711: licensee's admin"})
        assert ok.status_code == 202, ok.text
        assert ok.json()["redirected"] is True

        disabled = issue_key(client, unique())
        assert (
            client.patch(f"/license_keys/{disabled.key_id}", json={"disabled": True}).status_code
            == 200
        )
        response = client.post(f"/license_keys/{disabled.key_id}/deliveries")
        assert response.status_code == 422
        assert response.json()["code"] == "LICENSE_KEY_DISABLED"

        assert client.post("/license_keys/lic_missing/deliveries").json()["code"] == (
            "LICENSE_KEY_NOT_FOUND"
        )
        broken = client.post(
            path, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422

    [kept] = deliveries(shop, mine.key_id)
    assert kept["recipient"] == other
    assert kept["licensee_email"] == mine.customer_email
    assert kept["reason"] == "Ticket 4711: licensee's admin"

    # Another tenant cannot see nor send this key.
    stranger = mail_server.tenant()
    with stranger.http() as client:
        assert client.get(f"/license_keys/{mine.key_id}/deliveries").status_code == 404
        assert client.post(f"/license_keys/{mine.key_id}/deliveries").status_code == 404


def test_owner_address_is_staff(shop: Tenant, mail_server: Server) -> None:
    owner_email = owner_of(mail_server, shop)
    with shop.http() as client:
        issued = issue_key(client, unique())
        response = client.post(
            f"/license_keys/{issued.key_id}/deliveries",
            json={"to": owner_email.upper(), "reason": "send it to me"},
        )
    assert response.status_code == 422
    assert response.json()["code"] == "RECIPIENT_IS_STAFF"


def test_refusing_server_then_retry_lands(shop: Tenant, sink: SmtpSink) -> None:
    address = unique()
    sink.handler.refusals[address] = ["451 4.3.0 try again later", "452 4.2.2 not now"]
    with shop.http() as client:
        issued = issue_key(client, address)
        job = client.post(f"/license_keys/{issued.key_id}/deliveries").json()
    got = wait_for(lambda: sink.handler.to(address), what="the retried email")
    assert len(got) == 1
    attempts = [mid for rcpt, mid in sink.handler.attempts if rcpt == address]
    assert attempts == [job["message_id"]] * 3  # the same message, three times
    [done] = wait_for(
        lambda: [d for d in deliveries(shop, issued.key_id) if d["status"] == "sent"],
        what="sent",
    )
    assert done["attempts"] == 3


def test_failed_after_limit_then_resend(shop: Tenant, sink: SmtpSink) -> None:
    address = unique()
    sink.handler.refusals[address] = ["450 4.2.1 mailbox unavailable"] * 4
    with shop.http() as client:
        issued = issue_key(client, address)
        job = client.post(f"/license_keys/{issued.key_id}/deliveries").json()
        busy = client.post(f"/license_keys/{issued.key_id}/deliveries/{job['id']}/resend")
        assert busy.status_code == 409
        assert busy.json()["code"] == "DELIVERY_IN_PROGRESS"
        [failed] = wait_for(
            lambda: [d for d in deliveries(shop, issued.key_id) if d["status"] == "failed"],
            what="the delivery to fail",
        )
        assert failed["attempts"] == 4
        assert failed["max_attempts"] == 4
        assert "450" in failed["last_error"]
        assert "mailbox unavailable" in failed["last_error"]
        assert sink.handler.to(address) == []

        again = client.post(f"/license_keys/{issued.key_id}/deliveries/{job['id']}/resend")
        assert again.status_code == 202, again.text
        assert again.json()["resend_of"] == job["id"]
        assert again.json()["message_id"] != job["message_id"]
        missing = client.post(f"/license_keys/{issued.key_id}/deliveries/eml_nope/resend")
        assert missing.json()["code"] == "DELIVERY_NOT_FOUND"
    got = wait_for(lambda: sink.handler.to(address), what="the re-sent email")
    assert got[0].message["Message-ID"] == again.json()["message_id"]
    assert issued.key in got[0].message.get_body(("plain",)).get_content()
    states = {d["id"]: d["status"] for d in deliveries(shop, issued.key_id)}
    wait_for(lambda: deliveries(shop, issued.key_id)[-1]["status"] == "sent", what="resend sent")
    assert states[job["id"]] == "failed"


def test_mail_settings_validation(shop: Tenant) -> None:
    with shop.http() as client:
        assert client.get("/mail_settings").json()["staff_domains"] == []
        for body in (
            {"sender_email": "nope"},
            {"staff_domains": ["not a domain"]},
            {"domain": "-bad-.test"},
            {"reseller_domains": "reseller.test"},
            {"footer": "x" * 5000},
        ):
            response = client.put("/mail_settings", json=body)
            assert response.status_code == 422, body
            assert response.json()["code"] == "VALIDATION_ERROR"
        put = client.put("/mail_settings", json={"staff_domains": ["B.test", "a.test", "b.test"]})
        assert put.json()["staff_domains"] == ["a.test", "b.test"]
        assert client.get("/mail_settings").json()["staff_domains"] == ["a.test", "b.test"]
    anonymous = net.get(shop.base_url + "/mail_settings")
    assert anonymous.status_code == 401


def test_mail_health_reports_mail(shop: Tenant) -> None:
    with shop.http() as client:
        mail = client.get("/mail/health").json()
    assert mail["configured"] is True
    assert mail["worker"] is True


def test_bad_input_is_a_4xx_never_a_500(shop: Tenant) -> None:
    with shop.http() as client:
        issued = issue_key(client, unique())
        path = f"/license_keys/{issued.key_id}/deliveries"
        body: object
        for body in (
            {"to": "a\x00b@other.test", "reason": "x"},
            {"to": unique("other.test"), "reason": "nul \x00 here"},
            {"to": ["a@b.test"]},
            {"reason": 5},
            [],
        ):
            response = client.post(path, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["code"] == "VALIDATION_ERROR"
        for body in (
            {"footer": "a\x00b"},
            {"sender_name": "Evil\r\nBcc: x@y.test"},
            {"reply_to": "x\x01@y.test"},
        ):
            response = client.put("/mail_settings", json=body)
            assert response.status_code == 422, (body, response.text)
        for url in (f"{path}/eml_%00/resend", "/license_keys/%00/deliveries"):
            response = client.post(url)  # NUL in a path is refused before routing
            assert response.status_code == 422, (url, response.text)
            assert response.json()["code"] == "VALIDATION_ERROR"
        for url in (f"{path}/{'e' * 300}/resend", f"/license_keys/{'l' * 300}/deliveries"):
            response = client.post(url)
            assert response.status_code == 404, (url, response.text)
        assert client.get(f"/license_keys/{'l' * 300}/deliveries").status_code == 404
        assert client.delete(path).status_code == 405


def test_queue_lists_failed_and_retry_sends_the_same_message(
    shop: Tenant, sink: SmtpSink, mail_server: Server
) -> None:
    address = unique()
    sink.handler.refusals[address] = ["550 5.1.1 no such user (yet)"]
    with shop.http() as client:
        issued = issue_key(client, address)
        job = client.post(f"/license_keys/{issued.key_id}/deliveries").json()

        def failed() -> list[dict[str, object]]:
            items = client.get("/deliveries", params={"status": "failed"}).json()["items"]
            return [d for d in items if d["id"] == job["id"]]

        [seen] = wait_for(failed, what="the permanent failure in the queue")
        assert seen["attempts"] == 1
        assert "550" in str(seen["last_error"])
        everything = client.get("/deliveries").json()["items"]
        assert job["id"] in [d["id"] for d in everything]
        cancel = client.post(f"/deliveries/{job['id']}/cancel")
        assert (cancel.status_code, cancel.json()["code"]) == (409, "DELIVERY_NOT_QUEUED")

        retried = client.post(f"/deliveries/{job['id']}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "queued"
        assert retried.json()["attempts"] == 0  # a fresh round of attempts
        assert retried.json()["max_attempts"] == 4
        got = wait_for(lambda: sink.handler.to(address), what="the retried email")
        assert [r.message_id for r in got] == [job["message_id"]]  # the same message
        done = wait_for(
            lambda: client.get(f"/deliveries/{job['id']}").json()["status"] == "sent",
            what="sent",
        )
        assert done
        again = client.post(f"/deliveries/{job['id']}/retry")
        assert (again.status_code, again.json()["code"]) == (409, "DELIVERY_NOT_FAILED")
        assert client.get("/deliveries", params={"status": "bogus"}).status_code == 422
    with mail_server.tenant().http() as stranger:
        for response in (
            stranger.get(f"/deliveries/{job['id']}"),
            stranger.post(f"/deliveries/{job['id']}/retry"),
            stranger.post(f"/deliveries/{job['id']}/cancel"),
        ):
            assert (response.status_code, response.json()["code"]) == (404, "DELIVERY_NOT_FOUND")
        assert job["id"] not in [d["id"] for d in stranger.get("/deliveries").json()["items"]]
