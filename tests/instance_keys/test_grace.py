"""The check-in's own grace after a subscription's expiry (LICENSOR_CHECKIN_EXPIRY_GRACE_SECONDS):
the same rule and states as the license-key checks and the offline verifier
(docs/machines.md), in the signed answer's `state`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests import net
from tests.instance_keys.helpers import make_plan, now, subscribe
from tests.instance_keys.test_checkin import VALIDATE, Instance, verify
from tests.servers import Server, start_server

DAY = 86400


@pytest.fixture
def lenient(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """Another server process on the same database, with a day of grace after expiry."""
    monkeypatch.setenv("LICENSOR_CHECKIN_EXPIRY_GRACE_SECONDS", str(DAY))
    other = start_server(server.backend, server.settings.data_dir, server.settings.database_url)
    try:
        yield other
    finally:
        other.stop()


def test_states_and_the_grace_after_expiry(server: Server, lenient: Server) -> None:
    tenant = server.tenant()
    ended, running, long_gone = (Instance(server, tenant) for _ in range(3))
    plan = make_plan(server, tenant, "team", ["core"])
    start = now() - timedelta(days=30)
    expired = now() - timedelta(hours=1)
    subscribe(server, tenant, ended.org_id, plan, starts_at=start, expires_at=expired)
    subscribe(server, tenant, running.org_id, plan, starts_at=start)
    past = now() - timedelta(days=2)
    subscribe(server, tenant, long_gone.org_id, plan, starts_at=start, expires_at=past)

    # the default server: no grace, an expired subscription is expired
    lic = ended.license()
    assert (lic["active"], lic["status"], lic["state"]) == (
        False,
        "subscription_expired",
        "expired",
    )
    assert running.license()["state"] == "valid"

    def on_lenient(instance: Instance) -> dict[str, object]:
        url = lenient.face("test") + VALIDATE
        r = net.post(url, headers={"Authorization": f"Bearer {instance.key}"})
        assert r.status_code == 200, r.text
        verify(tenant, r.json())
        answer: dict[str, object] = r.json()["license"]
        return answer

    lic = on_lenient(ended)
    assert (lic["active"], lic["status"], lic["state"]) == (
        True,
        "subscription_in_grace",
        "in_grace",
    )
    assert lic["subscription"]["status"] == "expired"  # type: ignore[index]
    until = datetime.fromisoformat(str(lic["validUntil"]))
    assert until <= expired + timedelta(seconds=DAY)  # not past the end of the grace
    assert on_lenient(running)["state"] == "valid"
    gone = on_lenient(long_gone)
    assert (gone["active"], gone["state"]) == (False, "expired")
    # no subscription: no term to be in
    assert Instance(server, tenant).license()["state"] is None
