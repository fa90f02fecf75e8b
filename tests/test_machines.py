"""Machines (docs/machines.md): one fingerprint holds one seat, and a floating seat whose
machine went silent is freed, race-free, for the next one."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests import net
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import Tenant

FLOATING = {"license_model": "floating", "heartbeat_interval_seconds": 1}


def floating_key(tenant: Tenant, limit: int, **policy: Any) -> dict[str, Any]:
    product_id = make_product(tenant, license_policy={**FLOATING, **policy})
    return make_key(tenant, make_customer(tenant), product_id, unique(), activations_limit=limit)


def activate(public: httpx.Client, key: str, name: str, **extra: Any) -> httpx.Response:
    return public.post("/licenses/activate", json={"license_key": key, "name": name, **extra})


def count_of(tenant: Tenant, key_id: str) -> int:
    with tenant.http() as http:
        count: int = http.get(f"/license_keys/{key_id}").json()["instances_count"]
    return count


def wait_until_silent(public: httpx.Client, key: str, instance_id: str, seconds: float) -> None:
    """Wait (with a deadline) until the instance's seat is lost: validate says so."""
    deadline = time.monotonic() + seconds + 30
    body = {"license_key": key, "license_key_instance_id": instance_id}
    while public.post("/licenses/validate", json=body).json()["valid"]:
        assert time.monotonic() < deadline, "the seat never went silent"
        time.sleep(0.2)


def test_today_the_same_machine_twice_takes_one_seat(tenant: Tenant) -> None:
    """Today: the same machine activating twice (a reinstall) takes two seats."""
    product_id = make_product(tenant)
    key = make_key(tenant, make_customer(tenant), product_id, unique(), activations_limit=2)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        first = activate(public, key["key"], "laptop", fingerprint="machine-a1")
        again = activate(public, key["key"], "laptop again", fingerprint="machine-a1")
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    assert count_of(tenant, key["id"]) == 1


def test_today_a_dead_machine_frees_its_floating_seat(tenant: Tenant) -> None:
    """Today: nothing frees the seat of a machine that died."""
    key = floating_key(tenant, 1, heartbeat_grace_seconds=0)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        dead = activate(public, key["key"], "crashed", fingerprint="dead-1")
        assert dead.status_code == 201, dead.text
        wait_until_silent(public, key["key"], dead.json()["id"], 1)
        live = activate(public, key["key"], "alive", fingerprint="live-1")
        assert live.status_code == 201, live.text
        beat = {"license_key": key["key"], "license_key_instance_id": dead.json()["id"]}
        lost = public.post("/licenses/heartbeat", json=beat)
    assert (lost.status_code, lost.json()["code"]) == (404, "LICENSE_KEY_INSTANCE_NOT_FOUND")
    assert count_of(tenant, key["id"]) == 1
