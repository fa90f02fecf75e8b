"""No SMTP configured: jobs wait in the outbox and the server says so; the CLI sends,
lists and re-sends; `licensor worker --once` delivers what waited."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests import cli_helpers
from tests.cli_helpers import Done
from tests.mail import (
    SmtpSink,
    deliveries,
    issue_key,
    mail_health,
    start_server_with,
    wait_for,
)
from tests.servers import Server, Tenant, fresh_postgres_database
from tests.zygote import licensor_process


@pytest.fixture(scope="module")
def quiet_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[tuple[Server, Path]]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        data_dir = tmp_path_factory.mktemp(f"nosmtp-{backend}")
        srv, stderr = start_server_with(backend, data_dir, url, {})
        stack.callback(srv.stop)
        yield srv, stderr


def cli(server: Server, *args: str, env: dict[str, str] | None = None) -> Done:
    return cli_helpers.cli(server, *args, env=env)


def cli_json(server: Server, *args: str) -> Any:
    return cli_helpers.cli_json(server, *args)


def test_without_smtp_jobs_wait_and_the_server_says_so(
    quiet_server: tuple[Server, Path],
) -> None:
    server, stderr = quiet_server
    assert "SMTP is not configured" in stderr.read_text()
    tenant = server.tenant()
    with tenant.http() as client:
        issued = issue_key(client, "waiting@buyer.test")
        assert client.post(f"/license_keys/{issued.key_id}/deliveries").status_code == 202
    mail = mail_health(tenant)
    assert mail["configured"] is False
    assert mail["worker"] is False
    assert mail["queued"] == 1
    time.sleep(1)
    [job] = deliveries(tenant, issued.key_id)
    assert job["status"] == "queued"
    assert job["attempts"] == 0

    webhooks_only = cli(server, "worker", "--once")  # no SMTP: it delivers webhooks only
    assert webhooks_only.returncode == 0, webhooks_only.stderr
    assert "webhooks only" in webhooks_only.stderr
    [job] = deliveries(tenant, issued.key_id)
    assert job["status"] == "queued"

    with SmtpSink() as sink:
        done = cli(server, "worker", "--once", env=sink.env())
        assert done.returncode == 0, done.stderr
        got = sink.handler.to("waiting@buyer.test")
        assert [r.message_id for r in got] == [job["message_id"]]
    assert deliveries(tenant, issued.key_id)[0]["status"] == "sent"


def test_cli_send_list_resend_and_settings(quiet_server: tuple[Server, Path]) -> None:
    server, _ = quiet_server
    tenant = server.tenant()
    with tenant.http() as client:
        issued = issue_key(client, "cli@buyer.test")

    sent = cli_json(server, "licenses", "send", issued.key_id)
    assert sent["status"] == "queued"
    assert sent["recipient"] == "cli@buyer.test"

    no_reason = cli(server, "licenses", "send", issued.key_id, "--to", "boss@other.test")
    assert no_reason.returncode == 1
    assert "REASON_REQUIRED" in no_reason.stderr
    bad = cli(server, "licenses", "send", issued.key_id, "--to", "nope", "--reason", "r")
    assert bad.returncode == 1
    assert "VALIDATION_ERROR" in bad.stderr
    missing = cli(server, "licenses", "send", "lic_missing")
    assert missing.returncode == 1
    assert "LICENSE_KEY_NOT_FOUND" in missing.stderr

    shown = cli_json(
        server,
        "mail-settings",
        "set",
        "--business-id",
        tenant.business_id,
        "--mode",
        "test",
        "--reseller-domains",
        "resell.test,Partner.test",
        "--footer",
        "Acme",
    )
    assert shown["reseller_domains"] == ["partner.test", "resell.test"]
    assert (
        cli_json(
            server, "mail-settings", "show", "--business-id", tenant.business_id, "--mode", "test"
        )["footer"]
        == "Acme"
    )
    bad_domain = cli(
        server,
        "mail-settings",
        "set",
        "--business-id",
        tenant.business_id,
        "--mode",
        "test",
        "--staff-domains",
        "not a domain",
    )
    assert bad_domain.returncode == 1
    assert "VALIDATION_ERROR" in bad_domain.stderr
    reseller = cli(
        server, "licenses", "send", issued.key_id, "--to", "x@partner.test", "--reason", "r"
    )
    assert reseller.returncode == 1
    assert "RECIPIENT_IS_RESELLER" in reseller.stderr

    other = cli_json(
        server,
        "licenses",
        "send",
        issued.key_id,
        "--to",
        "admin@other.test",
        "--reason",
        "Ticket 12: their admin installs it",
    )
    assert other["redirected"] is True

    listed = cli(server, "licenses", "deliveries", issued.key_id)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["recipient"] for r in rows] == ["cli@buyer.test", "admin@other.test"]
    assert rows[1]["reason"] == "Ticket 12: their admin installs it"

    busy = cli(server, "licenses", "resend", issued.key_id, sent["id"])
    assert busy.returncode == 1
    assert "DELIVERY_IN_PROGRESS" in busy.stderr

    with SmtpSink() as sink:
        assert cli(server, "worker", "--once", env=sink.env()).returncode == 0
        wait_for(lambda: len(sink.handler.received) == 2, what="both emails")
    again = cli_json(server, "licenses", "resend", issued.key_id, sent["id"])
    assert again["resend_of"] == sent["id"]
    assert again["recipient"] == "cli@buyer.test"
    assert again["status"] == "queued"


def test_cli_issue_key_queues_its_email_in_the_same_transaction(
    quiet_server: tuple[Server, Path],
) -> None:
    server, _ = quiet_server
    tenant = server.tenant()
    with tenant.http() as client:
        customer = client.post("/customers", json={"email": "new@buyer.test", "name": "N"})
        product = client.post("/products", json={"name": "Gadget"})
    ids = [
        "--business-id",
        tenant.business_id,
        "--mode",
        "test",
        "--customer-id",
        customer.json()["customer_id"],
        "--product-id",
        product.json()["product_id"],
    ]
    quiet = cli_json(server, "licenses", "issue-key", *ids)
    assert "delivery" not in quiet
    assert deliveries(tenant, quiet["id"]) == []

    # A refused recipient rolls the whole transaction back: no key is left behind.
    refused = cli(server, "licenses", "issue-key", *ids, "--to", "x@other.test")
    assert refused.returncode == 1
    assert "REASON_REQUIRED" in refused.stderr
    with tenant.http() as client:
        keys = client.get("/license_keys", params={"customer_id": customer.json()["customer_id"]})
    assert [k["id"] for k in keys.json()["items"]] == [quiet["id"]]

    sent = cli_json(server, "licenses", "issue-key", *ids, "--send")
    assert sent["delivery"]["status"] == "queued"
    assert sent["delivery"]["license_id"] == sent["id"]
    assert [d["id"] for d in deliveries(tenant, sent["id"])] == [sent["delivery"]["id"]]


@pytest.fixture
def postgres_ok(_postgres_checked: bool) -> bool:
    return _postgres_checked


def test_worker_can_be_left_out_of_serve(backend: str, tmp_path: Path, postgres_ok: bool) -> None:
    with ExitStack() as stack, SmtpSink() as sink:
        url = None
        if backend == "postgres":
            if not postgres_ok:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        server, stderr = start_server_with(
            backend, tmp_path, url, sink.env(LICENSOR_MAIL_WORKER="false")
        )
        stack.callback(server.stop)
        assert "SMTP is not configured" not in stderr.read_text()
        tenant = server.tenant()
        with tenant.http() as client:
            issued = issue_key(client, "later@buyer.test")
            assert client.post(f"/license_keys/{issued.key_id}/deliveries").status_code == 202
        mail = mail_health(tenant)
        assert mail == {
            "configured": True,
            "worker": False,
            "queued": 1,
            "failed": 0,
            "error": None,
        }
        time.sleep(1.5)
        assert sink.handler.received == []
        worker = licensor_process(["worker"], env={**server.env(), **sink.env()})
        try:
            wait_for(lambda: sink.handler.to("later@buyer.test"), what="the worker's email")
        finally:
            worker.terminate()
            assert worker.wait(timeout=15) == 0  # SIGTERM: a clean stop
        wait_for(
            lambda: mail_health(tenant)["queued"] == 0,
            what="the queue to drain",
        )


def test_cli_queue_cancel_and_retry_then_the_worker(quiet_server: tuple[Server, Path]) -> None:
    """A cancelled delivery is never sent; a retried one is, as the same message."""
    server, _ = quiet_server
    tenant = server.tenant()
    keep, drop = "keep@buyer.test", "drop@buyer.test"
    with tenant.http() as client:
        kept = client.post(f"/license_keys/{issue_key(client, keep).key_id}/deliveries").json()
        dropped = client.post(f"/license_keys/{issue_key(client, drop).key_id}/deliveries").json()
    queue = ["deliveries", "list", "--business-id", tenant.business_id, "--mode", "test"]
    listed = cli(server, *queue, "--status", "queued")
    assert listed.returncode == 0, listed.stderr
    ids = [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    assert ids == [dropped["id"], kept["id"]]  # newest first

    cancelled = cli_json(server, "deliveries", "cancel", dropped["id"])
    assert cancelled["status"] == "cancelled"
    for args, code in (
        (("cancel", dropped["id"]), "DELIVERY_NOT_QUEUED"),
        (("retry", kept["id"]), "DELIVERY_NOT_FAILED"),
        (("cancel", "eml_missing"), "DELIVERY_NOT_FOUND"),
    ):
        refused = cli(server, "deliveries", *args)
        assert (refused.returncode, refused.error()["code"]) == (1, code)
    left = cli(server, *queue)
    assert [json.loads(line)["id"] for line in left.stdout.splitlines()] == [kept["id"]]

    with SmtpSink() as sink:
        sink.handler.refusals[keep] = ["554 5.7.1 rejected for now"]
        assert cli(server, "worker", "--once", env=sink.env()).returncode == 0
        assert sink.handler.to(keep) == sink.handler.to(drop) == []
        tried = [rcpt for rcpt, _ in sink.handler.attempts if rcpt in (keep, drop)]
        assert tried == [keep]  # drop: never tried
    failed = cli(server, *queue, "--status", "failed")
    [row] = [json.loads(line) for line in failed.stdout.splitlines()]
    assert (row["id"], row["status"], row["attempts"]) == (kept["id"], "failed", 1)

    retried = cli_json(server, "deliveries", "retry", kept["id"])
    assert (retried["status"], retried["attempts"]) == ("queued", 0)
    assert "554" in retried["last_error"]  # kept until the next attempt
    with SmtpSink() as sink:
        assert cli(server, "worker", "--once", env=sink.env()).returncode == 0
        assert [r.message_id for r in sink.handler.to(keep)] == [kept["message_id"]]
        assert sink.handler.to(drop) == []
    by_id = {d["id"]: d for d in deliveries_of(tenant)}
    assert by_id[kept["id"]]["status"] == "sent"
    assert by_id[kept["id"]]["attempts"] == 1
    assert by_id[kept["id"]]["last_error"] is None
    assert by_id[dropped["id"]]["status"] == "cancelled"


def deliveries_of(tenant: Tenant) -> list[dict[str, Any]]:
    """Every delivery of the tenant, whatever its status, by its license keys."""
    with tenant.http() as client:
        keys = client.get("/license_keys", params={"page_size": 100}).json()["items"]
        out: list[dict[str, Any]] = []
        for key in keys:
            out += client.get(f"/license_keys/{key['id']}/deliveries").json()["items"]
    return out
