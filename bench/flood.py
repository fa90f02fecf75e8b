"""Real activations under a flood of wrong-password logins and garbage activation codes.

`python bench/flood.py` (`--quick` for a short run). For each backend (SQLite in a fresh
data dir, PostgreSQL in a fresh database, dropped afterwards) it starts
`licensor serve --workers 1` with `LICENSOR_RATE_LIMITS=false` (the limiter would answer
the flood with 429s; this measures what the flood costs the database), seeds a business
(CLI `bootstrap`), unlimited license keys and an organisation owner with a password, then,
in one run:

1. `--activations` real `POST /licenses/activate` calls, `--concurrency` at a time, alone;
2. the same calls while `--flooders` connections send, as fast as they are answered,
   wrong passwords for the real owner (each costs the server one argon2 verify) and
   garbage codes to `POST /cloud/activate`.

It prints p50/p99 (ms) of the activations in both phases, the flood's answers per second
and the status counts. Exits 1 if any request got a 5xx or a transport error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support import BIN, free_port, fresh_postgres_database, running, seed

PASSWORD = "the owner's real password"


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    flood: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def add_owner(base: str, api_key: str) -> tuple[str, str]:
    """An organisation with an owner who has a password: (business id, owner email)."""
    vendor = {"Authorization": f"Bearer {api_key}"}
    email = "flooded@bench.test"
    with httpx.Client(base_url=base, headers=vendor, timeout=30) as http:
        org = http.post("/customers", json={"email": "org@bench.test", "name": "Flood Org"})
        org.raise_for_status()
        added = http.post(
            f"/api/v1/organizations/{org.json()['customer_id']}/owner",
            json={"email": email, "password": PASSWORD},
        )
        added.raise_for_status()
    return str(org.json()["business_id"]), email


async def run_phase(
    args: argparse.Namespace, base: str, keys: list[str], target: tuple[str, str], flood: bool
) -> Phase:
    phase = Phase("with flood" if flood else "alone")
    stop = asyncio.Event()
    business_id, email = target

    async def flooder(i: int) -> None:
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=one) as c:
            n = i
            while not stop.is_set():
                n += 1
                try:
                    if n % 2:
                        body = {"email": email, "password": f"wrong {n}", "businessId": business_id}
                        r = await c.post("/api/v1/auth/login", json=body)
                    else:
                        body = {"activation_code": f"GARBAGE-{i}-{n}", "instance_id": "x"}
                        r = await c.post("/cloud/activate", json=body)
                    phase.flood[str(r.status_code)] += 1
                except httpx.HTTPError as exc:
                    phase.flood[type(exc).__name__] += 1

    todo = iter(range(args.activations))

    async def activator(c: httpx.AsyncClient) -> None:
        for n in todo:
            body = {"license_key": keys[n % len(keys)], "name": f"{phase.name}-{n}"}
            started = time.perf_counter()
            try:
                r = await c.post("/licenses/activate", json=body)
                phase.statuses[str(r.status_code)] += 1
            except httpx.HTTPError as exc:
                phase.statuses[type(exc).__name__] += 1
            phase.latencies_ms.append((time.perf_counter() - started) * 1000)

    tasks = [asyncio.create_task(flooder(i)) for i in range(args.flooders if flood else 0)]
    await asyncio.sleep(1.0 if flood else 0)  # the flood is under way
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await asyncio.gather(*(activator(client) for _ in range(args.concurrency)))
    phase.seconds = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    return phase


def bench_backend(args: argparse.Namespace, backend: str) -> list[Phase]:
    exe = BIN / "licensor"
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flood-")))
        env = dict(os.environ, LICENSOR_DATA_DIR=str(data_dir), LICENSOR_RATE_LIMITS="false")
        env.pop("LICENSOR_DATABASE_URL", None)
        if backend == "postgres":
            env["LICENSOR_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        port = free_port()
        root = f"http://127.0.0.1:{port}"
        cmd = [str(exe), "serve", "--workers", "1", "--port", str(port)]
        shown = [f"LICENSOR_DATA_DIR={data_dir}", "LICENSOR_RATE_LIMITS=false"]
        if backend == "postgres":
            shown.append(f"LICENSOR_DATABASE_URL={env['LICENSOR_DATABASE_URL']}")
        print(f"[{backend}] server: {' '.join(shown)} {shlex.join(cmd)}", flush=True)
        stack.enter_context(running(cmd, root + "/health", env, cwd=data_dir))
        seeded = seed(exe, root, env, keys=args.keys, unlimited=args.keys)
        target = add_owner(root, seeded.api_key)
        return [
            asyncio.run(run_phase(args, root, seeded.free, target, flood=False)),
            asyncio.run(run_phase(args, root, seeded.free, target, flood=True)),
        ]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--activations", type=int, default=400, help="real activations per phase")
    p.add_argument("--concurrency", type=int, default=4, help="real activations at a time")
    p.add_argument("--flooders", type=int, default=16, help="flood connections")
    p.add_argument("--keys", type=int, default=20, help="unlimited license keys to activate")
    p.add_argument("--quick", action="store_true", help="60 activations per phase")
    args = p.parse_args()
    if args.quick:
        args.activations = 60
    return args


def main() -> int:
    args = parse_args()
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{args.activations} activations per phase, {args.concurrency} at a time; "
        f"flood: {args.flooders} connections (wrong-password logins, garbage activation codes)"
    )
    failed = False
    rows = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for phase in bench_backend(args, backend):
            bad = {k: v for k, v in (phase.statuses + phase.flood).items() if k[:1] not in "24"}
            failed = failed or bool(bad) or set(phase.statuses) != {"201"}
            flood_rate = sum(phase.flood.values()) / phase.seconds if phase.seconds else 0.0
            rows.append(
                f"| {backend} | {phase.name} | {phase.pct(0.50):.1f} | {phase.pct(0.99):.1f} "
                f"| {statistics.mean(phase.latencies_ms):.1f} | {flood_rate:.0f} "
                f"| {dict(phase.statuses)} | {dict(phase.flood) or '-'} |"
            )
    print()
    print(
        "| backend | activations | p50 ms | p99 ms | mean ms | flood req/s | activate answers "
        "| flood answers |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if failed:
        print(
            "FAILED: a 5xx, a transport error or a failed activation (see above)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
