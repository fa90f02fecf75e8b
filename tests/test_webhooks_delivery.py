"""Webhook deliveries against a real `licensor serve` when the receiver or the network
gets in the way: retries, the delivery log and resend, 410 and a long outage disabling the
endpoint, the rate limit, the SSRF checks (at create and at delivery), and expiry
announced once. The server runs no worker of its own: each test runs the delivery
worker's passes (tests/webhook_helpers.py)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from tests.cli_helpers import cli
from tests.desk_helpers import ok
from tests.servers import Server
from tests.webhook_helpers import Receiver, drain, endpoint, hooks, inbox, new_key, run_worker

__all__ = ["hooks", "inbox"]
HOOKS_EXTRA_ENV = {"LICENSOR_WEBHOOKS_MAX_ATTEMPTS": "3"}


def test_retry_log_and_resend(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    inbox.answers["/flaky"] = [500, 200]
    webhook_id, _ = endpoint(tenant, inbox.url("/flaky"))
    new_key(tenant)
    drain(hooks, lambda: len(inbox.at("/flaky")) >= 2, "the retry")
    first, second = inbox.at("/flaky")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    with tenant.http() as http:
        [delivery] = http.get(f"/webhooks/{webhook_id}/deliveries").json()["data"]
        assert (delivery["status"], delivery["attempts"]) == ("sent", 2)
        path = f"/webhooks/{webhook_id}/deliveries/{delivery['id']}"
        detail = http.get(path).json()
        assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200]
        resent = http.post(path + "/resend")
        assert resent.status_code == 202, resent.text
        assert resent.json()["resend_of"] == delivery["id"]
    drain(hooks, lambda: len(inbox.at("/flaky")) >= 3, "the resend")
    assert inbox.at("/flaky")[2].headers["webhook-id"] == first.headers["webhook-id"]
    # the CLI reads the same log
    listed = cli(hooks, "webhooks", "deliveries", "--business-id", tenant.business_id, webhook_id)
    assert listed.returncode == 0, listed.stderr
    assert '"resend_of"' in listed.stdout
    assert delivery["id"] in listed.stdout


def test_gone_disables_the_endpoint_with_an_event(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    inbox.answers["/gone"] = [410]
    gone_id, _ = endpoint(tenant, inbox.url("/gone"))
    endpoint(tenant, inbox.url("/watcher"), filter_types=["webhook_endpoint.disabled"])
    new_key(tenant)
    drain(hooks, lambda: len(inbox.at("/watcher")) >= 1, "webhook_endpoint.disabled")
    assert len(inbox.at("/gone")) == 1  # not retried
    [event] = inbox.at("/watcher")
    assert event.json()["data"]["id"] == gone_id
    assert "410" in event.json()["data"]["reason"]
    assert tenant.sdk().webhooks.retrieve(gone_id).disabled is True
    with tenant.http() as http:
        query = {"action": "webhook_endpoint.disabled", "target_id": gone_id}
        [audited] = ok(http.get("/audit_events", params=query))["items"]
    assert (audited["actor"], audited["note"]) == (
        "system:webhook_worker",
        event.json()["data"]["reason"],
    )
    new_key(tenant)
    run_worker(hooks)
    assert len(inbox.at("/gone")) == 1  # a disabled endpoint gets nothing


def test_an_endpoint_failing_too_long_is_disabled(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    inbox.answers["/down"] = [503]
    down_id, _ = endpoint(tenant, inbox.url("/down"))
    new_key(tenant)
    sdk = tenant.sdk()
    drain(
        hooks,
        lambda: sdk.webhooks.retrieve(down_id).disabled is True,
        "the endpoint disabled",
        webhooks_disable_after_seconds=0.01,
    )
    assert len(inbox.at("/down")) == 2  # failed, then failed again past the limit


def test_rate_limit_is_honoured(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    endpoint(tenant, inbox.url("/limited"), rate_limit=1)
    for _ in range(4):
        new_key(tenant)
    drain(hooks, lambda: len(inbox.at("/limited")) >= 4, "four deliveries")
    arrived = [r.at for r in inbox.at("/limited")]
    # one per second: four span three turns of a second (less the requests' own latency)
    assert arrived[3] - arrived[0] >= 1.5


def test_ssrf_refused_at_create_and_at_delivery(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    refuse = {"LICENSOR_WEBHOOKS_ALLOW_PRIVATE": "false"}
    for url in (
        "http://127.0.0.1:9/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://localhost/",
    ):
        done = cli(
            hooks, "webhooks", "create", "--business-id", tenant.business_id, "--url", url,
            env=refuse,
        )  # fmt: skip
        assert done.returncode == 1, url
        assert "WEBHOOK_URL_NOT_ALLOWED" in done.stderr, done.stderr

    # A name (not an address) passes the URL check, but resolves to loopback: refused
    # when the delivery is made, and nothing is sent.
    host = socket.gethostname()
    resolved = {str(info[4][0]) for info in socket.getaddrinfo(host, 80)}
    assert any(a.startswith("127.") or a == "::1" for a in resolved), resolved
    made = cli(
        hooks, "webhooks", "create", "--business-id", tenant.business_id,
        "--url", inbox.url("/inside", host=host), env=refuse,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    webhook_id = made.stdout.split('"id": "')[1].split('"')[0]
    new_key(tenant)
    run_worker(hooks, webhooks_allow_private=False)
    assert inbox.at("/inside") == []
    with tenant.http() as http:
        [delivery] = http.get(f"/webhooks/{webhook_id}/deliveries").json()["data"]
    assert delivery["status"] == "failed"
    assert "non-public address" in delivery["last_error"]


def test_expiry_is_announced_once(hooks: Server, inbox: Receiver) -> None:
    tenant = hooks.tenant()
    endpoint(tenant, inbox.url("/expired"), filter_types=["license_key.expired"])
    past = datetime.now(UTC).replace(microsecond=0).isoformat()
    key = new_key(tenant, expires_at=past)
    drain(hooks, lambda: len(inbox.at("/expired")) >= 1, "license_key.expired")
    [event] = inbox.at("/expired")
    assert event.json()["data"]["id"] == key["id"]
    assert event.json()["data"]["status"] == "expired"
    run_worker(hooks)
    assert len(inbox.at("/expired")) == 1  # once per expiry
