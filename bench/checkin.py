"""Check-in throughput: `POST /api/v1/licensing/validate` with an instance key.

Starts `licensor serve` with 2 workers on a fresh SQLite database holding one business,
organisation, plan, subscription and key, and a bare ASGI constant-JSON app under the
same uvicorn settings; loads each with wrk (64 connections, a Lua script setting the
Authorization header and a JSON body) in the same run, and prints req/s, p50, p99, the
ratio and the exact commands. Needs `wrk` (Debian: apt-get install -y wrk).

    .venv/bin/python bench/checkin.py [--duration 10] [--connections 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from licensor.business import service as business_service  # noqa: E402
from licensor.config import Settings  # noqa: E402
from licensor.instance_keys import service as key_service  # noqa: E402
from licensor.kit import migrate  # noqa: E402
from licensor.kit.clock import utcnow  # noqa: E402
from licensor.kit.context import AppContext  # noqa: E402
from licensor.kit.ids import new_id  # noqa: E402
from licensor.models import Customer, Plan, Subscription  # noqa: E402

LUA = """wrk.method = "POST"
wrk.body = '{{"instanceId":"bench-host","version":"1.0.0"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


async def seed(settings: Settings) -> str:
    ctx = AppContext.from_settings(settings)
    try:
        async with ctx.db.write_sessions() as session, session.begin():
            done = await business_service.bootstrap(
                session, ctx.vault, business_name="Bench", owner_email="b@example.test", mode="test"
            )
            biz = done.business.id
            org = Customer(
                id=new_id("cus"), business_id=biz, mode="test", email="o@example.test", name="Org"
            )
            plan = Plan(
                id=new_id("pln"),
                business_id=biz,
                mode="test",
                code="pro",
                name="Pro",
                features=["sso", "audit-log", "priority-support"],
            )
            session.add_all([org, plan])
            await session.flush()
            session.add(
                Subscription(
                    id=new_id("sub"),
                    business_id=biz,
                    mode="test",
                    customer_id=org.id,
                    plan_id=plan.id,
                    users_count=10,
                    starts_at=utcnow() - timedelta(days=1),
                )
            )
            return (await key_service.create(session, ctx.vault, org, "bench", None)).secret
    finally:
        await ctx.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(cmd: list[str]) -> tuple[float, float, float]:
    """req/s, p50 ms, p99 ms of one wrk run."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print(out)
        raise SystemExit("wrk saw errors: the numbers would not be valid")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    return rps, to_ms(p50), to_ms(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating runs of each app; medians reported"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")

    work = Path(tempfile.mkdtemp(prefix="licensor-checkin-bench-"))
    settings = Settings(data_dir=work / "data")
    migrate.upgrade(settings.resolved_database_url)
    key = asyncio.run(seed(settings))
    lua = work / "checkin.lua"
    lua.write_text(LUA.format(key=key))

    env = {**os.environ, "LICENSOR_DATA_DIR": str(settings.data_dir)}
    env.pop("LICENSOR_DATABASE_URL", None)
    lic_port, base_port = free_port(), free_port()
    workers = str(args.workers)
    servers = {
        "check-in (licensor serve)": [
            sys.executable, "-m", "licensor", "serve", "--no-migrate",
            "--port", str(lic_port), "--workers", workers,
        ],
        "bare ASGI constant JSON": [
            sys.executable, "-m", "uvicorn", "checkin_baseline:app",
            "--app-dir", str(ROOT / "bench"),
            "--port", str(base_port), "--workers", workers, "--http", "httptools",
            "--loop", "uvloop", "--log-level", "warning", "--no-access-log",
        ],
    }  # fmt: skip
    urls = {
        "check-in (licensor serve)": f"http://127.0.0.1:{lic_port}/api/v1/licensing/validate",
        "bare ASGI constant JSON": f"http://127.0.0.1:{base_port}/",
    }
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT) for cmd in servers.values()]
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in urls}
    commands: dict[str, str] = {}
    try:
        for proc, url in zip(procs, urls.values(), strict=True):
            wait_ready(url.rsplit("/api", 1)[0] + "/health" if "/api" in url else url, proc)
        check = httpx.post(
            urls["check-in (licensor serve)"], headers={"Authorization": f"Bearer {key}"}
        )
        if check.status_code != 200 or not check.json()["license"]["active"]:
            raise SystemExit(f"the check-in does not work: {check.text}")
        for name, url in urls.items():
            commands[name] = shlex.join([
                "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
                "--latency", "-s", str(lua), url,
            ])  # fmt: skip
            warm = ["wrk", "-t1", "-c8", "-d2s", "-s", str(lua), url]
            subprocess.run(warm, capture_output=True, check=True)
        for _ in range(args.rounds):  # alternate, so both see the same background load
            for name in urls:
                runs[name].append(wrk(shlex.split(commands[name])))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)

    results = {
        name: tuple(statistics.median(r[i] for r in rs) for i in range(3))
        for name, rs in runs.items()
    }
    print(
        f"\n{args.workers} uvicorn workers, SQLite, wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, median of {args.rounds} alternating runs"
    )
    print(f"{'app':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}   runs (req/s)")
    for name, (rps, p50, p99) in results.items():
        each = ", ".join(f"{r[0]:.0f}" for r in runs[name])
        print(f"{name:<28}{rps:>10.0f}{p50:>10.2f}{p99:>10.2f}   {each}")
    ratio = results["check-in (licensor serve)"][0] / results["bare ASGI constant JSON"][0]
    print(f"\ncheck-in / baseline = {ratio:.2f}")
    print("\nserver commands:")
    for name, cmd in servers.items():
        print(f"  {name}: {shlex.join(cmd)}")
    print("wrk commands (the Lua script sets POST, the JSON body and Authorization):")
    for name, line in commands.items():
        print(f"  {name}: {line}")
    print(f"Lua script:\n{LUA.format(key='<64-hex instance key>')}")


if __name__ == "__main__":
    main()
