"""The vendor's grace period setting, and the FastAPI route that serves check-ins when the
thin path is switched off (LICENSOR_FAST_PATH=false): same answers, same errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests import net
from tests.instance_keys.helpers import change_subscription, make_plan, now, subscribe
from tests.instance_keys.test_checkin import VALIDATE, Instance, verify
from tests.servers import Server, start_server


@pytest.fixture
def slow_server(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("LICENSOR_CHECKIN_GRACE_SECONDS", "3600")
    monkeypatch.setenv("LICENSOR_FAST_PATH", "false")
    other = start_server(server.backend, server.settings.data_dir, server.settings.database_url)
    try:
        yield other
    finally:
        other.stop()


def test_grace_setting_and_fastapi_route(server: Server, slow_server: Server) -> None:
    tenant = server.tenant()
    instance = Instance(server, tenant)
    plan = make_plan(server, tenant, "pro", ["sso"])
    subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1))
    url = slow_server.face("test") + VALIDATE
    r = net.post(url, json={"version": "9.9"}, headers={"Authorization": f"Bearer {instance.key}"})
    assert r.status_code == 200, r.text
    verify(tenant, r.json())
    lic = r.json()["license"]
    issued = datetime.fromisoformat(lic["issuedAt"])
    assert datetime.fromisoformat(lic["validUntil"]) - issued == timedelta(hours=1)
    assert lic["version"] == "9.9"
    assert net.post(url).json()["code"] == "MISSING_LICENSE_KEY"
    bad = net.post(url, content=b"[1]", headers={"Authorization": f"Bearer {instance.key}"})
    assert bad.status_code == 422
    assert set(bad.json()) == {"code", "message"}


def test_other_process_sees_revocation_and_plan_change_at_once(server: Server) -> None:
    """Each process caches check-in rows per second while nothing commits; another
    process's commit (here: the test's own server and the ORM) must empty that cache."""
    tenant = server.tenant()
    instance = Instance(server, tenant)
    basic = make_plan(server, tenant, "basic", ["core"])
    pro = make_plan(server, tenant, "pro", ["core", "sso"])
    sub = subscribe(server, tenant, instance.org_id, basic, starts_at=now() - timedelta(days=1))
    other = start_server(server.backend, server.settings.data_dir, server.settings.database_url)
    try:
        url = other.face("test") + VALIDATE
        headers = {"Authorization": f"Bearer {instance.key}"}
        for _ in range(3):  # warm that process's caches
            assert net.post(url, headers=headers).json()["license"]["active"] is True
        change_subscription(server, sub, plan_id=pro)
        lic = net.post(url, headers=headers).json()["license"]
        assert lic["subscription"]["plan"]["id"] == pro
        revoked = net.delete(
            f"{server.face('test')}/api/v1/licensing/keys/{instance.key_id}", headers=instance.owner
        )
        assert revoked.status_code == 200
        lic = net.post(url, headers=headers).json()["license"]
        assert (lic["active"], lic["status"]) == (False, "key_revoked")
    finally:
        other.stop()
