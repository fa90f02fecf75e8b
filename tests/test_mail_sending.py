"""What goes out on the operator's relay: whose sender, which failures are final, the same
bytes on every attempt, no password in clear, and a /health that tells strangers nothing."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import net
from tests.mail import SmtpSink, deliveries, issue_key, mail_health, start_server_with, wait_for
from tests.servers import Server, Tenant, fresh_postgres_database


def unique(domain: str = "customer.test") -> str:
    return f"buyer-{uuid.uuid4().hex[:10]}@{domain}"


def send(tenant: Tenant, address: str) -> tuple[str, dict[str, Any]]:
    with tenant.http() as client:
        issued = issue_key(client, address)
        created = client.post(f"/license_keys/{issued.key_id}/deliveries")
    assert created.status_code == 202, created.text
    return issued.key_id, created.json()


def settle(tenant: Tenant, key_id: str, status: str) -> dict[str, Any]:
    [job] = wait_for(
        lambda: [d for d in deliveries(tenant, key_id) if d["status"] == status],
        what=f"the delivery to be {status}",
    )
    settled: dict[str, Any] = job
    return settled


def test_a_sender_outside_the_allowlist_only_gets_reply_to(shop: Tenant, sink: SmtpSink) -> None:
    with shop.http() as client:
        put = client.put(
            "/mail_settings",
            json={"sender_name": "PayPal Security", "sender_email": "security@paypal.com"},
        )
        assert put.status_code == 200, put.text
    address = unique()
    send(shop, address)
    [got] = wait_for(lambda: sink.handler.to(address), what="the email")
    assert got.envelope_from == "licenses@licensor.test"  # the operator's own address
    assert got.message["From"].addresses[0].addr_spec == "licenses@licensor.test"
    assert got.message["Reply-To"] == "security@paypal.com"

    # An explicit reply-to stays the Reply-To; the sender still is not used.
    with shop.http() as client:
        client.put(
            "/mail_settings",
            json={"sender_email": "security@paypal.com", "reply_to": "help@paypal.com"},
        )
    second = unique()
    send(shop, second)
    [got] = wait_for(lambda: sink.handler.to(second), what="the second email")
    assert got.envelope_from == "licenses@licensor.test"
    assert got.message["From"].addresses[0].addr_spec == "licenses@licensor.test"
    assert got.message["Reply-To"] == "help@paypal.com"


def test_a_sender_in_the_allowlist_sends_as_itself(shop: Tenant, sink: SmtpSink) -> None:
    # sink.env() sets LICENSOR_MAIL_SENDER_DOMAINS=acme.test: subdomains are in it too.
    for sender in ("licensing@acme.test", "orders@eu.ACME.test"):
        with shop.http() as client:
            client.put("/mail_settings", json={"sender_email": sender})
        address = unique()
        send(shop, address)
        [got] = wait_for(lambda a=address: sink.handler.to(a), what="the email")  # type: ignore[misc]
        assert got.envelope_from == sender
        assert got.message["From"].addresses[0].addr_spec == sender
        assert got.message["Reply-To"] is None


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_permanent_refusal_fails_the_job_at_once(
    shop: Tenant, sink: SmtpSink, stage: str
) -> None:
    address = unique()
    refusals = sink.handler.rcpt_refusals if stage == "rcpt" else sink.handler.refusals
    refusals[address] = ["550 5.1.1 no such user here", "550 5.1.1 no such user here"]
    key_id, _ = send(shop, address)
    job = settle(shop, key_id, "failed")
    assert job["attempts"] == 1
    assert job["last_error"] == "SMTP 550: 5.1.1 no such user here"
    assert job["next_attempt_at"] is None
    time.sleep(1.5)  # retries come after 0.3 s here: none may come
    assert deliveries(shop, key_id)[0]["attempts"] == 1
    assert sink.handler.to(address) == []


def test_a_temporary_refusal_is_retried_with_the_same_bytes(shop: Tenant, sink: SmtpSink) -> None:
    address = unique()
    sink.handler.refusals[address] = ["451 4.3.0 try again later", "421 4.4.2 busy"]
    key_id, _ = send(shop, address)
    job = settle(shop, key_id, "sent")
    assert job["attempts"] == 3
    sent = [raw for rcpt, raw in sink.handler.raw if rcpt == address]
    assert len(sent) == 3
    assert sent[0] == sent[1] == sent[2], "every attempt must send the same message"
    assert b"multipart/alternative" in sent[0]


@contextmanager
def serving(
    backend: str, data_dir: Path, env: dict[str, str], postgres_ok: bool
) -> Iterator[tuple[Server, Path]]:
    data_dir.mkdir()
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not postgres_ok:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        server, stderr = start_server_with(backend, data_dir, url, env)
        stack.callback(server.stop)
        yield server, stderr


@pytest.fixture
def postgres_ok(_postgres_checked: bool) -> bool:
    return _postgres_checked


CREDENTIALS = {"LICENSOR_SMTP_USERNAME": "relay", "LICENSOR_SMTP_PASSWORD": "s3cret-relay-pw"}


def test_no_password_goes_out_without_tls(backend: str, tmp_path: Path, postgres_ok: bool) -> None:
    with SmtpSink(auth=True) as relay:
        env = relay.env(**CREDENTIALS)
        with serving(backend, tmp_path / "refuse", env, postgres_ok) as (server, stderr):
            assert "never sent in clear" in stderr.read_text()
            tenant = server.tenant()
            key_id, _ = send(tenant, unique())
            job = settle(tenant, key_id, "failed")
            assert job["attempts"] == 1
            assert "without TLS" in job["last_error"]
            assert "LICENSOR_SMTP_ALLOW_PLAINTEXT_AUTH" in job["last_error"]
            alone = subprocess.run(
                [sys.executable, "-m", "licensor", "worker", "--once"],
                env={**server.env(), **env},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert alone.returncode == 0, alone.stderr
            assert "never sent in clear" in alone.stderr
        assert relay.handler.logins == []
        assert relay.handler.attempts == []

        opted_in = {**env, "LICENSOR_SMTP_ALLOW_PLAINTEXT_AUTH": "true"}
        with serving(backend, tmp_path / "opt-in", opted_in, postgres_ok) as (server, _):
            tenant = server.tenant()
            address = unique()
            key_id, _ = send(tenant, address)
            settle(tenant, key_id, "sent")
        assert relay.handler.logins == [(b"relay", b"s3cret-relay-pw")]
        assert len(relay.handler.to(address)) == 1


def test_public_health_is_bare_and_the_outbox_needs_a_key(
    shop: Tenant, mail_server: Server, sink: SmtpSink
) -> None:
    health = net.get(mail_server.base_url + "/health")
    assert health.status_code == 200
    assert set(health.json()) == {"status", "version"}
    assert health.json()["status"] == "ok"

    anonymous = net.get(shop.base_url + "/mail/health")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "UNAUTHORIZED"

    address = unique()
    sink.handler.refusals[address] = ["554 5.7.1 refused"]
    key_id, _ = send(shop, address)
    settle(shop, key_id, "failed")
    mine = mail_health(shop)
    assert mine["configured"] is True
    assert mine["worker"] is True
    assert mine["failed"] >= 1
    stranger = mail_health(mail_server.tenant())
    assert stranger == {
        "configured": True,
        "worker": True,
        "queued": 0,
        "failed": 0,
        "error": None,
    }


def audit_of(tenant: Tenant, delivery_id: str) -> list[dict[str, Any]]:
    with tenant.http() as client:
        resp = client.get(
            "/audit_events", params={"target_type": "delivery", "target_id": delivery_id}
        )
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_the_worker_records_each_outcome_on_the_audit_log(shop: Tenant, sink: SmtpSink) -> None:
    key_id, _ = send(shop, unique())
    job = settle(shop, key_id, "sent")
    sent, queued = wait_for(
        lambda: len(audit_of(shop, job["id"])) == 2 and audit_of(shop, job["id"])
    )
    assert queued["action"] == "delivery.queued"
    assert queued["actor"].startswith("api_key:")
    assert sent["action"] == "delivery.sent"
    assert sent["actor"] == "system:mail_worker"
    assert sent["changes"] == {"status": {"old": "sending", "new": "sent"}}
    refused = unique()
    sink.handler.refusals[refused] = ["550 5.1.1 no such user here"] * 2
    key_id, _ = send(shop, refused)
    job = settle(shop, key_id, "failed")
    failed = audit_of(shop, job["id"])[0]
    assert failed["action"] == "delivery.failed"
    assert failed["changes"]["last_error"]["new"] == "SMTP 550: 5.1.1 no such user here"
