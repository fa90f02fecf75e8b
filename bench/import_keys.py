"""A million license keys: the database built by the import command, then the key list
and validate at that size (issue 13).

    cd bench && ../.venv/bin/python import_keys.py                      # 1,000,000 keys
    cd bench && ../.venv/bin/python import_keys.py --keys 20000 --backends sqlite

For each backend, in a fresh data dir (SQLite) or database (PostgreSQL, dropped after):
1. `licensor bootstrap` (live mode), `licensor serve`, one product through the API;
2. a CSV of N keys (N/5 customers named by email, created by the import; the product by
   name; 1 in 20 expired, 1 in 100 disabled, limits 1-10), imported by
   `licensor license-keys import` in a process of its own: its keys/s and wall time;
3. `GET /license_keys` (one client, sequential, a page of 10): the first page, by
   customer_id, status=active, status=expired, customer_id+status, and a page 10,000
   deep (page_number=10000): p50/p95 over --list-rounds requests. On PostgreSQL once as
   imported and once after VACUUM (what autovacuum soon gives: index-only scans);
4. validate's throughput (wrk, interleaved with the bare-ASGI baseline) on this
   database and on a 1,000-key one built the same way, each as a ratio to the baseline,
   and the ratio at N over the ratio at 1,000 (1.00: unchanged).

Targets: import >= 50,000 keys/s; first and filtered pages p95 <= 20 ms; the deep page
<= 100 ms; validate's ratio unchanged from the 1,000-key database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from support import (
    BIN,
    LIMITS_ABOVE_LOAD,
    Result,
    add_load_options,
    baseline_command,
    free_port,
    fresh_postgres_database,
    measure,
    preflight,
    running,
    write_bodies,
)

EXE = BIN / "licensor"
PAST, FUTURE = "2020-01-01T00:00:00Z", "2036-01-01T00:00:00Z"
TARGET_RATE, TARGET_PAGE_MS, TARGET_DEEP_MS = 50_000, 20.0, 100.0


@dataclass
class Built:
    label: str
    env: dict[str, str]
    root: str
    api_key: str
    pid: int
    active_keys: list[str]
    summary: dict[str, Any]
    wall: float


def write_file(path: Path, count: int) -> list[str]:
    """The CSV to import; returns a sample of its active keys (for validate)."""
    customers = max(1, count // 5)
    active: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        out.write("key,customer,product,activations_limit,expires_at,disabled\n")
        for i in range(count):
            key = f"BENCH-{secrets.token_hex(10).upper()}-{i:07d}"
            expires = PAST if i % 20 == 7 else ("" if i % 3 else FUTURE)
            disabled = "true" if i % 100 == 11 else ""
            out.write(
                f"{key},c{i % customers}@bench.test,Bench,{1 + i % 10},{expires},{disabled}\n"
            )
            if expires != PAST and not disabled and len(active) < 1000:
                active.append(key)
    return active


def build(
    stack: ExitStack, tmp: Path, backend: str, count: int, label: str, args: argparse.Namespace
) -> Built:
    data_dir = tmp / f"data-{label}-{backend}"
    data_dir.mkdir()
    env = {**os.environ, **LIMITS_ABOVE_LOAD, "LICENSOR_DATA_DIR": str(data_dir)}
    env.pop("LICENSOR_DATABASE_URL", None)
    if backend == "postgres":
        env["LICENSOR_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
    boot = subprocess.run(
        [str(EXE), "bootstrap", "--business", "Bench", "--email", "b@bench.test", "--mode", "live"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    made = json.loads(boot.stdout.strip().splitlines()[-1])
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    cmd = [str(EXE), "serve", "--no-migrate", "--workers", str(args.workers), "--port", str(port)]
    pid = stack.enter_context(running(cmd, root + "/health", env, cwd=data_dir))
    headers = {"Authorization": f"Bearer {made['api_key']}"}
    httpx.post(root + "/products", json={"name": "Bench"}, headers=headers).raise_for_status()
    path = tmp / f"keys-{label}-{backend}.csv"
    active = write_file(path, count)
    run = [str(EXE), "license-keys", "import", str(path), "--business-id", made["business_id"]]
    run += ["--mode", "live", "--batch-size", str(args.batch_size), "--no-progress"]
    if args.import_workers is not None:
        run += ["--workers", str(args.import_workers)]
    if args.profile:
        # py-spy (pip install py-spy) samples the import and its preparing processes
        out = Path(args.profile) / f"import-{label}-{backend}.txt"
        run = [
            str(BIN / "py-spy"),
            "record",
            "--subprocesses",
            "--format",
            "raw",
            "-o",
            str(out),
            "--",
            *run,
        ]
    started = time.perf_counter()
    done = subprocess.run(run, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr}")
    # the summary is the last JSON document of the output, indented (py-spy, when
    # profiling, prints its own lines before and after it)
    lines = done.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("{"))
    summary, _end = json.JSONDecoder().raw_decode("\n".join(lines[start:]))
    print(
        f"{backend} {label}: imported {summary['imported']:,} keys in {wall:.1f} s "
        f"({summary['keys_per_second']:,.0f} keys/s by its summary; "
        f"{summary['customers_created']:,} customers created; load {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return Built(label, env, root, made["api_key"], pid, active, summary, wall)


def timings(
    http: httpx.Client, params: dict[str, str], rounds: int, path: str = "/license_keys"
) -> list[float]:
    for _ in range(5):
        http.get(path, params=params).raise_for_status()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        http.get(path, params=params).raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def p95(times: list[float]) -> float:
    return times[max(0, int(len(times) * 0.95) - 1)]


def list_pages(built: Built, rounds: int, when: str) -> bool:
    headers = {"Authorization": f"Bearer {built.api_key}"}
    met = True
    with httpx.Client(base_url=built.root, headers=headers, timeout=60) as http:
        first = http.get("/license_keys", params={"page_size": 1}).json()["items"][0]
        customer = first["customer_id"]
        kinds = {
            "first page": {},
            "customer_id": {"customer_id": customer},
            "status=active": {"status": "active"},
            "status=expired": {"status": "expired"},
            "customer_id+status=active": {"customer_id": customer, "status": "active"},
            "page_number=10000 (offset 100,000)": {"page_number": "10000"},
        }
        print(f"  GET /license_keys, {rounds} requests each, {when}:")
        print(f"  {'query':<38} {'p50 ms':>8} {'p95 ms':>8}  target")
        for name, params in kinds.items():
            times = timings(http, params, rounds)
            target = TARGET_DEEP_MS if name.startswith("page_number") else TARGET_PAGE_MS
            ok = p95(times) <= target
            met = met and ok
            print(
                f"  {name:<38} {statistics.median(times):8.2f} {p95(times):8.2f}  "
                f"<= {target:g}: {'met' if ok else 'NOT met'}"
            )
        # The floor under the same load: one key by id (a primary-key read, same auth).
        floor = timings(http, {}, rounds, f"/license_keys/{first['id']}")
        name = "floor: GET /license_keys/{id}"
        print(f"  {name:<38} {statistics.median(floor):8.2f} {p95(floor):8.2f}")
    return met


def vacuum(built: Built) -> None:
    async def go() -> None:
        url = built.env["LICENSOR_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql", 1)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM (ANALYZE) license_keys, customers")
        finally:
            await conn.close()

    asyncio.run(go())


def validate_ratio(
    args: argparse.Namespace, tmp: Path, big: Built, small: Built, base: tuple[str, int]
) -> None:
    base_url, base_pid = base
    pairs = []
    for built in (big, small):
        bodies = [json.dumps({"license_key": k}) for k in built.active_keys]
        path = write_bodies(tmp, f"validate-{built.label}-{built.pid}", bodies)
        url = built.root + "/licenses/validate"
        preflight(url, bodies[0], 200, {"valid": True})
        pairs.append((Result(f"validate {built.label}", ""), url, path, built.pid))
    baseline = Result("baseline (bare ASGI)", "")
    for r in range(args.rounds):
        print(f"  round {r + 1}/{args.rounds}", flush=True)
        base_rps = measure(args, baseline, base_url, pairs[0][2], base_pid)
        for result, url, path, pid in pairs:
            result.ratios.append(measure(args, result, url, path, pid) / base_rps)
    (big_r, *_), (small_r, *_) = pairs
    change = big_r.median(big_r.ratios) / max(small_r.median(small_r.ratios), 1e-9)
    print(
        f"  validate: {big.label} {big_r.median(big_r.ratios):.2f}x baseline, "
        f"{small.label} {small_r.median(small_r.ratios):.2f}x; "
        f"{big.label} / {small.label} = {change:.2f} (1.00: unchanged)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keys", type=int, default=1_000_000, help="keys in the large database")
    p.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--batch-size", type=int, default=10_000, help="the import's batch size")
    p.add_argument("--import-workers", type=int, help="the import's --workers (its default)")
    p.add_argument("--list-rounds", type=int, default=200, help="requests per list query")
    p.add_argument("--profile", help="a folder: py-spy profiles of the import, folded stacks")
    p.add_argument("--no-validate", action="store_true", help="skip validate's ratio (wrk)")
    add_load_options(p)
    args = p.parse_args()
    if not args.no_validate and shutil.which(args.wrk) is None:
        print(
            "wrk is not installed (apt-get install -y wrk), or pass --no-validate", file=sys.stderr
        )
        return 2
    print(f"host: {os.cpu_count()} CPUs, load {os.getloadavg()}, {time.strftime('%F %T %Z')}")
    met = True
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="licensor-import-")))
        base: tuple[str, int] | None = None
        if not args.no_validate:
            port = free_port()
            base_url = f"http://127.0.0.1:{port}/licenses/validate"
            base = (base_url, stack.enter_context(running(baseline_command(args, port), base_url)))
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            big = build(stack, tmp, backend, args.keys, f"{args.keys:,} keys", args)
            rate = float(big.summary["keys_per_second"])
            print(
                f"  import: {rate:,.0f} keys/s >= {TARGET_RATE:,}: "
                f"{'met' if rate >= TARGET_RATE else 'NOT met'}"
            )
            met = rate >= TARGET_RATE and met
            met = list_pages(big, args.list_rounds, "as imported") and met
            if backend == "postgres":
                vacuum(big)
                met = list_pages(big, args.list_rounds, "after VACUUM") and met
            if base is not None:
                small = build(stack, tmp, backend, 1000, "1,000 keys", args)
                validate_ratio(args, tmp, big, small, base)
    print("all targets met" if met else "some targets NOT met (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
