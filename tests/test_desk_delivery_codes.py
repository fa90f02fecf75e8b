"""Email delivery of the desk, continued: a cloud subscription's activation code emailed
(with `send_email`, refused where it may not be sent), and the CLI's faces of the desk's
deliveries (`licenses create --send`, `deliveries`, `send`, `resend`, `subscriptions
activation-code --send`), against a real `licensor serve` and aiosmtpd, on both backends."""

from __future__ import annotations

import time

from licensor import verifier
from tests.desk_helpers import error, legacy_body, ok, setup
from tests.desk_mail_helpers import (
    arrived,
    attachment,
    cli_deliveries,
    cli_json,
    deliveries_of,
    jwks,
    text_of,
    unique,
)
from tests.mail import SmtpSink, wait_for
from tests.servers import Server, Tenant


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
