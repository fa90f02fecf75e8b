"""Plumbing for the benchmarks: servers, seeding (license keys, instance keys), PostgreSQL
databases, CPU accounting, and the wrk-driven measurements against the bare-ASGI
baseline (`Result`, `wrk`, `measure`, `baseline_command`) that validate.py and the
benches built on it share."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk_post.lua"
PG_ADMIN_URL = os.environ.get(
    "LICENSOR_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def add_load_options(p: argparse.ArgumentParser) -> None:
    """The options of every wrk-driven bench: how long, how hard, how many rounds."""
    p.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians reported")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=2, help="server worker processes")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")


@dataclass
class Result:
    name: str
    command: str
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    db_cpu_us: list[float] = field(default_factory=list)
    database: str = ""  # PostgreSQL database name, to count its backends' CPU
    non_2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0

    def median(self, values: list[float]) -> float:
        return statistics.median(values) if values else 0.0


def wrk(
    args: argparse.Namespace, url: str, bodies: Path, seconds: float
) -> tuple[str, dict[str, int]]:
    """One wrk run; a bodies file named `checkin-*` holds `TOKEN JSON` lines (bearer)."""
    cmd = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        str(bodies),
    ]
    if bodies.name.startswith("checkin-"):
        cmd.append("bearer")
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in run.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if run.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return shlex.join(cmd), json.loads(line.removeprefix("WRKJSON "))


def measure(args: argparse.Namespace, result: Result, url: str, bodies: Path, pid: int) -> float:
    if args.warmup > 0:
        wrk(args, url, bodies, args.warmup)
    load = os.getloadavg()[0]
    cpu, db_cpu = cpu_seconds(pid, result.database)
    command, stats = wrk(args, url, bodies, args.duration)
    cpu_after, db_after = cpu_seconds(pid, result.database)
    cpu_us = (cpu_after - cpu) * 1e6 / max(stats["requests"], 1)
    result.cpu_us.append(cpu_us)
    result.db_cpu_us.append((db_after - db_cpu) * 1e6 / max(stats["requests"], 1))
    rps = float(stats["requests"]) / (stats["duration_us"] / 1e6)
    result.command = command
    result.rps.append(rps)
    result.p50_ms.append(stats["p50_us"] / 1000)
    result.p99_ms.append(stats["p99_us"] / 1000)
    result.loads.append(load)
    result.non_2xx += stats["status"]
    result.timeouts += stats["timeout"]
    result.socket_errors += stats["connect"] + stats["read"] + stats["write"]
    print(
        f"  {result.name:<22} {rps:>9.0f} req/s  p50 {stats['p50_us'] / 1000:6.2f} ms  "
        f"p99 {stats['p99_us'] / 1000:6.2f} ms  cpu {cpu_us:4.0f} us/req "
        f"(+db {result.db_cpu_us[-1]:3.0f})  load {load:.2f}  "
        f"non-2xx {stats['status']}",
        flush=True,
    )
    return rps


def write_bodies(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def baseline_command(args: argparse.Namespace, port: int) -> list[str]:
    """The bare ASGI app answering a constant JSON body (`baseline_app.py`), served by
    uvicorn with the server's workers and flags: what every ratio is measured against."""
    return [
        str(BIN / "uvicorn"),
        "baseline_app:app",
        "--app-dir",
        str(HERE),
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


@contextmanager
def running(
    cmd: list[str], ready_url: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[int]:
    """Start a server, wait until it answers, yield its pid; stop it afterwards."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True)
    try:
        wait_ready(ready_url, proc)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _processes() -> dict[int, tuple[int, float, bytes]]:
    """pid -> (parent pid, user+system CPU seconds, command line); empty without /proc."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    table: dict[int, tuple[int, float, bytes]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        table[int(entry.name)] = (int(fields[1]), cpu, cmdline)
    return table


def cpu_seconds(root: int, database: str = "") -> tuple[float, float]:
    """CPU used so far by a process and its descendants, and by the PostgreSQL backends
    serving `database` (their title is `postgres: USER DATABASE HOST ...`)."""
    table = _processes()
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0.0, b""))[1]
        todo.extend(child for child, row in table.items() if row[0] == pid)
    marker = f" {database} ".encode()
    db = sum(
        cpu
        for _, cpu, cmd in table.values()
        if database and cmd.startswith(b"postgres: ") and marker in cmd
    )
    return total, db


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    import asyncpg

    name = f"licensor_bench_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(_pg_dsn(PG_ADMIN_URL), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# The rate limiter on, with limits far above any load a benchmark makes: every request is
# counted (as in production) and none refused. bench/ratelimit.py compares this with off.
ABOVE = "1000000000/minute"
LIMITS_ABOVE_LOAD = {
    "LICENSOR_RATE_LIMITS": "true",
    "LICENSOR_RATE_LIMIT_LICENSE_ADDRESS": ABOVE,
    "LICENSOR_RATE_LIMIT_LICENSE_KEY": ABOVE,
    "LICENSOR_RATE_LIMIT_CHECKIN_ADDRESS": ABOVE,
    "LICENSOR_RATE_LIMIT_CHECKIN_KEY": ABOVE,
}


class Seeded(NamedTuple):
    keys: list[str]  # every license key
    free: list[str]  # the license keys with unlimited activations
    api_key: str  # the business's management API key (live mode: the root face)
    customer_id: str


def seed(exe: Path, base: str, data_env: dict[str, str], keys: int, unlimited: int) -> Seeded:
    """A live-mode business (CLI), then a product, a customer and keys through the
    management API, all on the root face, which is live mode: what shipped software calls."""
    out = subprocess.run(
        [str(exe), "bootstrap", "--business", "Bench", "--email", "b@bench.test", "--mode", "live"],
        env=data_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    api_key = json.loads(out.strip().splitlines()[-1])["api_key"]
    headers = {"Authorization": f"Bearer {api_key}"}
    all_keys: list[str] = []
    free_keys: list[str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        product = http.post("/products", json={"name": "Bench product"})
        product.raise_for_status()
        customer = http.post("/customers", json={"email": "c@bench.test", "name": "Bench"})
        customer.raise_for_status()
        for i in range(keys):
            body = {
                "customer_id": customer.json()["customer_id"],
                "product_id": product.json()["product_id"],
                "activations_limit": None if i < unlimited else 5,
            }
            made = http.post("/license_keys", json=body)
            made.raise_for_status()
            all_keys.append(made.json()["key"])
            if i < unlimited:
                free_keys.append(made.json()["key"])
    return Seeded(all_keys, free_keys, api_key, customer.json()["customer_id"])


def seed_instance_keys(base: str, api_key: str, count: int) -> list[str]:
    """For the check-in: an organisation (a customer) with an owner, a plan with three
    features, a started subscription and `count` instance keys, all through the API
    (management API key for the organisation, plan, subscription and owner; the owner's
    session token for the keys). Returns the keys (64 hex characters each)."""
    vendor = {"Authorization": f"Bearer {api_key}"}
    started = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    password = "bench bench bench bench"
    with httpx.Client(base_url=base, timeout=30) as http:

        def post(path: str, body: Mapping[str, object], headers: dict[str, str]) -> Any:
            answer = http.post(path, json=body, headers=headers)
            if answer.status_code >= 300:
                raise SystemExit(f"seeding: POST {path}: {answer.status_code} {answer.text}")
            return answer.json()

        org = post("/customers", {"email": "org@bench.test", "name": "Bench Org"}, vendor)
        org_id = org["customer_id"]
        features = ["sso", "audit-log", "priority-support"]
        post("/plans", {"code": "pro", "name": "Pro", "features": features}, vendor)
        sub = {"customer_id": org_id, "plan_code": "pro", "users_count": 10, "starts_at": started}
        post("/subscriptions", sub, vendor)
        owner = {"email": "owner@bench.test", "password": password}
        post(f"/api/v1/organizations/{org_id}/owner", owner, vendor)
        login = {"email": "owner@bench.test", "password": password, "organizationId": org_id}
        token = post("/api/v1/auth/login", login, {})["token"]
        member = {"Authorization": f"Bearer {token}"}
        return [
            post("/api/v1/licensing/keys", {"instanceName": f"bench-{i}"}, member)["licenseKey"]
            for i in range(count)
        ]


def preflight(
    url: str,
    body: str,
    status: int,
    expect: dict[str, object] | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request by hand: the load test must measure the answer it claims to measure."""
    got = httpx.post(
        url, content=body, headers={"content-type": "application/json", **(headers or {})}
    )
    if got.status_code != status:
        raise SystemExit(f"preflight {url}: {got.status_code} {got.text[:200]} (want {status})")
    if expect is not None:
        answer = got.json()
        for k, v in expect.items():
            if answer.get(k) != v:
                raise SystemExit(f"preflight {url}: {answer!r} lacks {k}={v!r}")
    return got
