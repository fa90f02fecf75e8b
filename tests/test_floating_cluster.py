"""64 machines on a 10-seat floating license, across two server processes on one database
(PostgreSQL, and one SQLite file): never more than 10 seats held; half the machines die
(their heartbeats stop) and their seats come back to the living after the interval."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from licensor.kit.context import AppContext
from tests import net
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import RAISED_LIMITS, Server, own_server

PROCESSES = 2
SEATS = 10
MACHINES = 64
POLICY = {
    "license_model": "floating",
    "heartbeat_interval_seconds": 2,
    "heartbeat_grace_seconds": 1,
}
BEAT_EVERY = 0.5  # well inside the interval
RETRY_EVERY = 1.0  # a machine without a seat asks again about this often
COUNTS = (
    "SELECT k.instances_count, (SELECT count(*) FROM license_key_instances i "
    "WHERE i.license_key_id = k.id) FROM license_keys k WHERE k.id = :id"
)
HOLDERS = "SELECT fingerprint FROM license_key_instances WHERE license_key_id = :id"


@pytest.fixture(scope="module")
def cluster(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"floating-{backend}")
    with own_server(
        backend, data_dir, _postgres_checked, count=PROCESSES, env=RAISED_LIMITS
    ) as srv:
        assert len(srv.urls) == PROCESSES
        yield srv


@dataclass
class Machine:
    fingerprint: str
    client: httpx.AsyncClient
    alive: bool = True
    instance: str | None = None


@dataclass
class Seen:
    """What the watcher read, one statement (one snapshot) at a time."""

    counts: list[tuple[int, int]] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)  # answers a machine should never get


def read(server: Server, sql: str, key_id: str) -> list[Any]:
    async def go(ctx: AppContext) -> list[Any]:
        async with ctx.db.read_sessions() as session:
            return list((await session.execute(text(sql), {"id": key_id})).all())

    return server.run(go)


async def live(machine: Machine, key: str, seen: Seen) -> None:
    """Activate until a seat is free, then heartbeat; a lost seat (404): activate again.
    A dead machine just stops sending anything."""
    activate = {"license_key": key, "name": machine.fingerprint, "fingerprint": machine.fingerprint}
    await asyncio.sleep(random.uniform(0, RETRY_EVERY))
    while machine.alive:
        if machine.instance is None:
            r = await machine.client.post("/licenses/activate", json=activate)
            if r.status_code == 201:
                machine.instance = r.json()["id"]
            elif r.status_code != 422 or r.json()["code"] != "LICENSE_KEY_LIMIT_REACHED":
                seen.odd.append(f"activate {r.status_code} {r.text}")
            pause = BEAT_EVERY if machine.instance else RETRY_EVERY
        else:
            body = {"license_key": key, "license_key_instance_id": machine.instance}
            r = await machine.client.post("/licenses/heartbeat", json=body)
            if r.status_code == 404:
                machine.instance = None  # too late: the seat went to another machine
            elif r.status_code != 200:
                seen.odd.append(f"heartbeat {r.status_code} {r.text}")
            pause = BEAT_EVERY
        await asyncio.sleep(pause * random.uniform(0.8, 1.2))


async def watch(server: Server, key_id: str, seen: Seen, stop: asyncio.Event) -> None:
    while not stop.is_set():
        [(count, rows)] = await asyncio.to_thread(read, server, COUNTS, key_id)
        seen.counts.append((int(count), int(rows)))
        await asyncio.sleep(0.05)


async def until(what: str, check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def test_sixty_four_machines_on_ten_floating_seats(cluster: Server) -> None:
    tenant = cluster.tenant()
    product_id = make_product(tenant, license_policy=POLICY)
    lk = make_key(tenant, make_customer(tenant), product_id, unique(), activations_limit=SEATS)
    seen = Seen()

    async def holders() -> set[str]:
        rows = await asyncio.to_thread(read, cluster, HOLDERS, lk["id"])
        return {row[0] for row in rows}

    async def scenario() -> tuple[set[str], set[str]]:
        limits = httpx.Limits(max_connections=MACHINES, max_keepalive_connections=MACHINES)
        clients = [
            net.async_client(base_url=url, limits=limits, timeout=60)
            for url in cluster.faces("test")
        ]
        machines = [Machine(f"machine-{i:02d}", clients[i % len(clients)]) for i in range(MACHINES)]
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(cluster, lk["id"], seen, stop))
        running = [asyncio.create_task(live(m, lk["key"], seen)) for m in machines]
        try:

            async def full() -> bool:
                return len(await holders()) == SEATS

            await until("every seat taken", full, 60)
            held = await holders()
            # half the machines die: five that hold a seat, 27 that wait for one
            dying = [m for m in machines if m.fingerprint in held][:5]
            dying += [m for m in machines if m.fingerprint not in held][:27]
            for m in dying:
                m.alive = False
            dead = {m.fingerprint for m in dying}
            living = {m.fingerprint for m in machines} - dead

            async def back() -> bool:
                now = await holders()
                return len(now) == SEATS and now <= living

            await until("the dead machines' seats taken by living ones", back, 90)
            return held, dead
        finally:
            for m in machines:
                m.alive = False
            await asyncio.gather(*running)
            stop.set()
            await watcher
            for client in clients:
                await client.aclose()

    held, dead = asyncio.run(scenario())
    assert seen.odd == []
    assert seen.counts, "the watcher read nothing"
    # every snapshot: the counter and the rows agree, and never pass the seats
    assert all(count == rows <= SEATS for count, rows in seen.counts), max(seen.counts)
    assert max(rows for _, rows in seen.counts) == SEATS
    with tenant.http() as http:
        released = http.get(
            "/audit_events",
            params={"action": "license_key_instance.released", "page_size": 100},
        ).json()["items"]
    freed = {e["changes"]["fingerprint"]["old"] for e in released}
    assert held & dead <= freed  # the dead holders' seats were released, by the server
    assert {e["actor"] for e in released} == {"system:seat_reaper"}
