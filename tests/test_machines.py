"""Machines (docs/machines.md): one fingerprint holds one seat, and a floating seat whose
machine went silent is freed, race-free, for the next one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from licensor.kit.context import AppContext
from licensor.kit.origin import Origin, bind
from licensor.license_key import seats
from tests import net
from tests.cli_helpers import cli, cli_json
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import Server, Tenant, own_server

FLOATING = {"license_model": "floating", "heartbeat_interval_seconds": 1}


@pytest.fixture
def unswept(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Tenant]:
    """A tenant on a server of its own without the background worker, so that no sweep
    of silent seats (every 10 s) frees a seat before the test's activation reaps it; the
    audit log is sealed when it is listed."""
    off = {"LICENSOR_MAIL_WORKER": "false"}
    with own_server(backend, tmp_path, _postgres_checked, env=off) as srv:
        yield srv.tenant()


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


def reap(server: Server, now: datetime) -> int:
    """The worker's seat sweep, run in this process at a chosen moment."""

    async def go(ctx: AppContext) -> int:
        async with ctx.db.write_sessions() as session, session.begin():
            bind(session, Origin("system:seat_reaper"))
            return await seats.reap_silent(session, now)

    return server.run(go)


def events_of(tenant: Tenant, **filters: str) -> list[dict[str, Any]]:
    with tenant.http() as http:
        got = http.get("/audit_events", params={"page_size": 100, **filters})
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


def test_the_policy_is_the_products(tenant: Tenant) -> None:
    with tenant.http() as http:
        plain = http.post("/products", json={"name": "Plain"}).json()
        assert plain["license_policy"] == {
            "license_model": "node_locked",
            "fingerprint_match": "exact",
            "heartbeat_interval_seconds": 600,
            "heartbeat_grace_seconds": 120,
            "expiry_grace_days": 0,
            "grace_behaviour": "valid_with_warning",
        }
        policy = {**FLOATING, "fingerprint_match": "normalised", "expiry_grace_days": 7}
        made = http.post("/products", json={"name": "Float", "license_policy": policy}).json()
        assert made["license_policy"]["license_model"] == "floating"
        assert made["license_policy"]["heartbeat_grace_seconds"] == 120
        pid = made["product_id"]
        patch = {"license_policy": {"grace_behaviour": "invalid", "heartbeat_grace_seconds": 5}}
        changed = http.patch(f"/products/{pid}", json=patch).json()["license_policy"]
        assert changed == {
            **made["license_policy"],
            "grace_behaviour": "invalid",
            "heartbeat_grace_seconds": 5,
        }
        assert http.get(f"/products/{pid}").json()["license_policy"] == changed
        for bad in (
            {"license_policy": {"license_model": "metered"}},
            {"license_policy": {"heartbeat_interval_seconds": 0}},
            {"license_policy": {"expiry_grace_days": -1}},
            {"license_policy": {"fingerprint_match": None}},
            {"license_policy": None},
        ):
            refused = http.patch(f"/products/{pid}", json=bad)
            assert (refused.status_code, refused.json()["code"]) == (422, "VALIDATION_ERROR"), bad
        assert http.get(f"/products/{pid}").json()["license_policy"] == changed
    [event, *_] = events_of(tenant, target_id=pid, action="product.updated")
    assert event["changes"]["grace_behaviour"] == {"old": "valid_with_warning", "new": "invalid"}


def test_fingerprints_are_matched_as_the_policy_says(tenant: Tenant) -> None:
    exact = floating_key(tenant, 5, license_model="node_locked")
    loose = floating_key(tenant, 5, license_model="node_locked", fingerprint_match="normalised")
    folded = floating_key(
        tenant, 5, license_model="node_locked", fingerprint_match="case_insensitive"
    )
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        for key, sent, same in (
            (exact, ("AA:BB:CC", "aa:bb:cc"), False),
            (folded, ("AA:BB:CC", "aa:bb:cc"), True),
            (folded, ("AA:BB:CC-1", "aa:bb:cc1"), False),
            (loose, ("AA:BB:CC-1", "aa.bb_cc1"), True),
        ):
            first, second = (activate(public, key["key"], "m", fingerprint=f).json() for f in sent)
            assert (first["id"] == second["id"]) is same, (key["id"], sent)
        assert (
            activate(public, loose["key"], "m", fingerprint="AA:BB:CC-1").json()["fingerprint"]
            == "aabbcc1"
        )
        for bad in ("", "-lead", "has space", "x" * 201, "ünï"):
            refused = activate(public, exact["key"], "m", fingerprint=bad)
            assert (refused.status_code, refused.json()["code"]) == (422, "VALIDATION_ERROR"), bad
    assert count_of(tenant, exact["id"]) == 2


def test_validate_by_fingerprint(tenant: Tenant) -> None:
    key = floating_key(tenant, 2, license_model="node_locked", fingerprint_match="case_insensitive")
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        made = activate(public, key["key"], "laptop", fingerprint="Host-A").json()

        def validate(**fields: str) -> Any:
            return public.post(
                "/licenses/validate", json={"license_key": key["key"], **fields}
            ).json()

        assert validate(fingerprint="host-a") == {"valid": True, "state": "valid"}
        assert validate(fingerprint="host-b") == {"valid": False, "state": "valid"}
        both = {"fingerprint": "HOST-A", "license_key_instance_id": made["id"]}
        assert validate(**both) == {"valid": True, "state": "valid"}
        assert validate(fingerprint="host-a", license_key_instance_id="lki_other")["valid"] is False
        assert public.post(
            "/licenses/validate", json={"license_key": "nope", "fingerprint": "x"}
        ).json() == {"valid": False}


def test_concurrent_activations_of_one_machine_take_one_seat(tenant: Tenant) -> None:
    key = floating_key(tenant, 5, license_model="node_locked")
    body = {"license_key": key["key"], "name": "twin", "fingerprint": "twin-1"}

    async def fire() -> list[httpx.Response]:
        async with net.async_client(base_url=tenant.base_url, timeout=60) as http:
            return await asyncio.gather(
                *(http.post("/licenses/activate", json=body) for _ in range(24))
            )

    answers = asyncio.run(fire())
    assert {a.status_code for a in answers} == {201}, [
        a.text for a in answers if a.status_code != 201
    ]
    assert len({a.json()["id"] for a in answers}) == 1
    assert count_of(tenant, key["id"]) == 1
    assert (
        len(
            events_of(
                tenant, action="license_key_instance.activated", target_id=answers[0].json()["id"]
            )
        )
        == 1
    )


def test_heartbeats(tenant: Tenant) -> None:
    key = floating_key(tenant, 2, heartbeat_interval_seconds=600, heartbeat_grace_seconds=60)
    locked = floating_key(tenant, 2, license_model="node_locked")
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        made = activate(public, key["key"], "laptop", fingerprint="hb-1").json()

        def beat(lk: dict[str, Any], instance: str) -> httpx.Response:
            body = {"license_key": lk["key"], "license_key_instance_id": instance}
            return public.post("/licenses/heartbeat", json=body)

        ok = beat(key, made["id"])
        assert ok.status_code == 200, ok.text
        got = ok.json()
        assert (got["id"], got["license_key_id"], got["state"], got["code"]) == (
            made["id"],
            key["id"],
            "valid",
            None,
        )
        assert got["heartbeat_interval_seconds"] == 600
        heard = datetime.fromisoformat(got["last_heartbeat_at"])
        assert datetime.fromisoformat(got["seat_expires_at"]) - heard == timedelta(seconds=660)
        with tenant.http() as http:
            listed = http.get(f"/license_key_instances/{made['id']}").json()
        assert datetime.fromisoformat(listed["last_heartbeat_at"]) == heard
        assert listed["fingerprint"] == "hb-1"

        node = activate(public, locked["key"], "desk").json()
        answer = beat(locked, node["id"]).json()
        assert (answer["heartbeat_interval_seconds"], answer["seat_expires_at"]) == (None, None)

        for lk, instance in ((key, "lki_nope"), (locked, made["id"])):  # unknown; another key's
            lost = beat(lk, instance)
            assert (lost.status_code, lost.json()["code"]) == (
                404,
                "LICENSE_KEY_INSTANCE_NOT_FOUND",
            )
        gone = {"license_key": key["key"], "license_key_instance_id": made["id"]}
        assert public.post("/licenses/deactivate", json=gone).status_code == 200
        assert beat(key, made["id"]).status_code == 404
        unknown = public.post("/licenses/heartbeat", json={**gone, "license_key": "nope"})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "LICENSE_KEY_NOT_FOUND")
        with tenant.http() as http:
            http.patch(f"/license_keys/{locked['id']}", json={"disabled": True}).raise_for_status()
        off = beat(locked, node["id"])
        assert (off.status_code, off.json()["code"]) == (422, "LICENSE_KEY_DISABLED")


def test_a_silent_machine_comes_back_to_its_own_seat(tenant: Tenant) -> None:
    """Silent but not yet reaped (nobody needed its seat): its fingerprint activates it
    again, the same instance, the seat it never gave up."""
    key = floating_key(tenant, 1, heartbeat_grace_seconds=0)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        first = activate(public, key["key"], "laptop", fingerprint="back-1").json()
        wait_until_silent(public, key["key"], first["id"], 1)
        beat = {"license_key": key["key"], "license_key_instance_id": first["id"]}
        assert public.post("/licenses/heartbeat", json=beat).status_code == 404
        again = activate(public, key["key"], "laptop", fingerprint="back-1")
        assert (again.status_code, again.json()["id"]) == (201, first["id"])
        assert public.post("/licenses/heartbeat", json=beat).status_code == 200
    assert count_of(tenant, key["id"]) == 1


def test_a_node_locked_seat_is_never_reaped(server: Server, tenant: Tenant) -> None:
    key = floating_key(tenant, 1, license_model="node_locked", heartbeat_grace_seconds=0)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        made = activate(public, key["key"], "desk").json()
        assert reap(server, datetime.now(UTC) + timedelta(days=1)) >= 0
        full = activate(public, key["key"], "other")
        assert full.json()["code"] == "LICENSE_KEY_LIMIT_REACHED"
        body = {"license_key": key["key"], "license_key_instance_id": made["id"]}
        assert public.post("/licenses/validate", json=body).json()["valid"] is True


def test_the_sweep_frees_only_silent_seats_and_names_who_held_them(
    server: Server, tenant: Tenant
) -> None:
    key = floating_key(tenant, 2, heartbeat_interval_seconds=600, heartbeat_grace_seconds=0)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        quiet = activate(public, key["key"], "quiet", fingerprint="quiet-1").json()
        loud = activate(public, key["key"], "loud", fingerprint="loud-1").json()
        time.sleep(0.01)
        body = {"license_key": key["key"], "license_key_instance_id": loud["id"]}
        heard = datetime.fromisoformat(
            public.post("/licenses/heartbeat", json=body).json()["last_heartbeat_at"]
        )
        # the moment `loud`'s heartbeat is exactly 600 s old, less a millisecond: only
        # `quiet`, last heard of at its activation, has been silent for longer
        assert reap(server, heard + timedelta(seconds=600, milliseconds=-1)) >= 1
        assert public.post("/licenses/heartbeat", json=body).status_code == 200
        lost = {"license_key": key["key"], "license_key_instance_id": quiet["id"]}
        assert public.post("/licenses/heartbeat", json=lost).status_code == 404
    assert count_of(tenant, key["id"]) == 1
    [event] = events_of(tenant, action="license_key_instance.released", target_id=quiet["id"])
    assert event["actor"] == "system:seat_reaper"
    assert event["note"] == "no heartbeat for more than 600 s (interval + grace)"
    assert event["changes"]["name"] == {"old": "quiet", "new": None}
    assert event["changes"]["fingerprint"] == {"old": "quiet-1", "new": None}
    assert event["changes"]["license_key_id"] == {"old": key["id"], "new": None}


def test_the_activation_that_reaps_records_it(unswept: Tenant) -> None:
    tenant = unswept
    key = floating_key(tenant, 1, heartbeat_grace_seconds=0)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        dead = activate(public, key["key"], "crashed", fingerprint="crash-1").json()
        wait_until_silent(public, key["key"], dead["id"], 1)
        live = activate(public, key["key"], "alive", fingerprint="live-2").json()
    [event] = events_of(tenant, action="license_key_instance.released", target_id=dead["id"])
    assert (event["actor"], event["changes"]["name"]["old"]) == ("system:seat_reaper", "crashed")
    [made] = events_of(tenant, action="license_key_instance.activated", target_id=live["id"])
    assert made["changes"]["fingerprint"] == {"old": None, "new": "live-2"}


def test_events_at_one_timestamp_are_chained_in_the_order_recorded(unswept: Tenant) -> None:
    """One activation reaps 6 silent seats: 7 events at one timestamp, the activation's
    recorded last, so sealed last (the sealer's order is `created_at`, then the id)."""
    tenant = unswept
    key = floating_key(tenant, 6, heartbeat_grace_seconds=0)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        held = [activate(public, key["key"], f"m{n}", fingerprint=f"m-{n}") for n in range(6)]
        for seat in held:
            wait_until_silent(public, key["key"], seat.json()["id"], 1)
        live = activate(public, key["key"], "alive", fingerprint="live-7").json()
    got = events_of(tenant, target_type="license_key_instance")
    [made] = [e for e in got if e["target_id"] == live["id"]]
    freed = [e for e in got if e["action"] == "license_key_instance.released"]
    assert len(freed) == 6
    assert {e["created_at"] for e in freed} == {made["created_at"]}
    assert made["seq"] == max(e["seq"] for e in got) == max(e["seq"] for e in freed) + 1


def test_force_release_with_a_reason(server: Server, tenant: Tenant) -> None:
    key = floating_key(tenant, 1, license_model="node_locked")
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        made = activate(public, key["key"], "old laptop", fingerprint="old-1").json()
        with tenant.http() as http:
            long = http.delete(f"/license_key_instances/{made['id']}", params={"reason": "x" * 501})
            assert (long.status_code, long.json()["code"]) == (422, "VALIDATION_ERROR")
            gone = http.delete(f"/license_key_instances/{made['id']}", params={"reason": "stolen"})
            assert gone.status_code == 204, gone.text
            again = http.delete(f"/license_key_instances/{made['id']}")
            assert again.json()["code"] == "LICENSE_KEY_INSTANCE_NOT_FOUND"
        body = {"license_key": key["key"], "license_key_instance_id": made["id"]}
        assert public.post("/licenses/heartbeat", json=body).status_code == 404
        assert activate(public, key["key"], "new laptop").status_code == 201
    [event] = events_of(tenant, action="license_key_instance.released", target_id=made["id"])
    assert event["actor"].startswith("api_key:")
    assert event["note"] == "stolen"
    assert event["changes"]["fingerprint"]["old"] == "old-1"


def test_the_cli_sets_the_policy_lists_seats_and_releases_one(
    server: Server, tenant: Tenant
) -> None:
    biz = ("--business-id", tenant.business_id)
    product_id = make_product(tenant)
    set_policy = ("products", "set-policy", product_id, *biz, "--license-model", "floating")
    got = cli_json(server, *set_policy, "--heartbeat-interval-seconds", "30")
    assert got["license_policy"]["license_model"] == "floating"
    assert got["license_policy"]["heartbeat_interval_seconds"] == 30
    assert (
        cli_json(server, "products", "get", product_id, *biz)["license_policy"]
        == got["license_policy"]
    )
    bad = cli(server, "products", "set-policy", product_id, *biz, "--grace-behaviour", "maybe")
    assert (bad.returncode, bad.error()["code"]) == (1, "VALIDATION_ERROR")
    key = make_key(tenant, make_customer(tenant), product_id, unique(), activations_limit=1)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        made = activate(public, key["key"], "render node", fingerprint="node-7").json()
    [seat] = cli_json(server, "license-keys", "seats", key["id"], *biz)
    assert (seat["id"], seat["name"], seat["fingerprint"]) == (made["id"], "render node", "node-7")
    done = cli_json(server, "license-keys", "release-seat", made["id"], *biz, "--reason", "moved")
    assert (done["released"]["fingerprint"], done["reason"]) == ("node-7", "moved")
    assert cli_json(server, "license-keys", "seats", key["id"], *biz) == []
    missing = cli(server, "license-keys", "release-seat", made["id"], *biz)
    assert (missing.returncode, missing.error()["code"]) == (1, "LICENSE_KEY_INSTANCE_NOT_FOUND")
    [event] = events_of(tenant, action="license_key_instance.released", target_id=made["id"])
    assert event["actor"].startswith("cli:")
    assert event["note"] == "moved"
