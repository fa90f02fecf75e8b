"""A flood of wrong-password logins and garbage activation codes does not freeze the server.

16 connections send wrong passwords for a real member (each costs an argon2 verify) and
garbage cloud activation codes, as fast as the server answers, while real
`/licenses/activate` calls run one after another. Every real activation succeeds and no
request, flood or real, gets a 5xx. Before, each wrong login held SQLite's write lock
across its argon2 verify, so the activations waited for the lock until SQLite gave up
("database is locked", 500). The flood's count and duration are bounded; the server runs
with rate limits off, so that the test measures the locks and not the limiter. The
latencies are in `bench/flood.py`. Six activations suffice: with the lock held across the
verify again (measured, three runs on SQLite), two or three of the six got a 500 each time;
fifteen cost 40 s of CPU a run on 2 cores, six 25 s.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests import net
from tests.conftest import DEFAULT_PASSWORD_COST
from tests.helpers import setup_key
from tests.instance_keys.helpers import PASSWORD, new_org
from tests.servers import Server, Tenant, own_server

FLOODERS = 16
ACTIVATIONS = 6
PAUSE = 0.3  # between real activations: they span ~3 s of flood
BOUND_SECONDS = 90


@pytest.fixture(scope="module")
def flooded(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"flood-{backend}")
    # limits off, and argon2 at the production cost: the verify is what held the lock
    off = {"LICENSOR_RATE_LIMITS": "false", **DEFAULT_PASSWORD_COST}
    with own_server(backend, data_dir, _postgres_checked, env=off) as srv:
        yield srv


async def flood_while_activating(
    tenant: Tenant, email: str, key: str
) -> tuple[list[tuple[int, str]], Counter[str]]:
    stop = asyncio.Event()
    flood: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def flooder(i: int) -> None:
        async with net.async_client(base_url=tenant.base_url, timeout=30, limits=limits) as c:
            n = i  # half the connections start with a login, half with a code
            while not stop.is_set():
                n += 1
                try:
                    if n % 2:
                        r = await c.post(
                            "/api/v1/auth/login",
                            json={
                                "email": email,
                                "password": f"wrong {i} {n}",
                                "businessId": tenant.business_id,
                            },
                        )
                    else:
                        r = await c.post(
                            "/cloud/activate",
                            json={"activation_code": f"GARBAGE-{i}-{n}", "instance_id": "x"},
                        )
                    flood[str(r.status_code)] += 1
                except httpx.HTTPError as exc:
                    flood[type(exc).__name__] += 1

    async def activations() -> list[tuple[int, str]]:
        done = []
        async with net.async_client(base_url=tenant.base_url, timeout=30) as c:
            await asyncio.sleep(1.0)  # the flood is under way
            for n in range(ACTIVATIONS):
                r = await c.post("/licenses/activate", json={"license_key": key, "name": f"m{n}"})
                done.append((r.status_code, r.text))
                await asyncio.sleep(PAUSE)
        return done

    tasks = [asyncio.create_task(flooder(i)) for i in range(FLOODERS)]
    try:
        real = await asyncio.wait_for(activations(), BOUND_SECONDS)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return real, flood


def test_flood_does_not_stop_real_activations(flooded: Server) -> None:
    tenant = flooded.tenant()
    email = "flooded-owner@example.test"
    with tenant.http() as http:
        r = http.post(
            f"/api/v1/organizations/{new_org(tenant)}/owner",
            json={"email": email, "password": PASSWORD},
        )
        assert r.status_code == 201, r.text
    _, _, key = setup_key(tenant)
    real, flood = asyncio.run(flood_while_activating(tenant, email, key["key"]))
    assert [status for status, _ in real] == [201] * ACTIVATIONS, real
    assert set(flood) <= {"401", "404"}, flood
    assert flood["401"] > 0
    assert flood["404"] > 0
