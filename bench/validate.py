"""Load test of the public hot paths: POST /licenses/validate, /licenses/activate and the
self-hosted instance check-in, POST /api/v1/licensing/validate (instance key as bearer).

`make bench` (or `python bench/validate.py --help`). For each backend (SQLite in a fresh
data dir, PostgreSQL in a fresh database, dropped afterwards) it starts
`licensor serve --workers 2`, seeds a business (CLI `bootstrap`), a product, a customer
and license keys through the management API, and for the check-in an organisation with
an owner, a plan, a started subscription and instance keys; then drives the routes with
wrk (64 connections, a Lua script cycling over the keys, setting the Authorization
header for the check-in) after a short warm-up. In the same run
it measures a bare ASGI app answering a constant JSON body, served by uvicorn with two
workers, and reports every scenario as a ratio to it. Rounds are interleaved (baseline,
then each scenario) so that load from other processes hits all of them alike; the
summary shows medians. Exits 1 if any scenario saw a non-2xx answer or a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

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
    seed,
    seed_instance_keys,
    write_bodies,
)

TARGET_RATIO = 0.4
TARGET_P99_MS = 20.0


def start_target(
    args: argparse.Namespace,
    stack: ExitStack,
    tmp: Path,
    label: str,
    exe: Path,
    backend: str,
    scenarios: list[str],
    extra_env: dict[str, str] | None = None,
    after_seed: Callable[[str, str], None] | None = None,
    database_url: str | None = None,
    workers: int | None = None,
) -> list[tuple[Result, str, Path, int]]:
    """Start `exe serve` on a fresh database, seed it, check one answer of each scenario.
    `extra_env`: more LICENSOR_* settings for that server (shown in the command line); by
    default the rate limiter is on with limits far above the load (`LIMITS_ABOVE_LOAD`).
    `after_seed(root_url, api_key)`: more set-up once seeded (e.g. a webhook endpoint).
    `database_url`: a PostgreSQL database of the caller's instead of a fresh one on the
    machine's PostgreSQL; `workers`: instead of `--workers`."""
    extra_env = {**LIMITS_ABOVE_LOAD, **(extra_env or {})}
    slug = f"{label.strip()}-{backend}".strip("-")
    data_dir = tmp / f"data-{slug}"
    data_dir.mkdir()
    env = dict(os.environ, LICENSOR_DATA_DIR=str(data_dir))
    env.pop("LICENSOR_DATABASE_URL", None)
    env.update(extra_env or {})
    database = ""
    if backend == "postgres":
        env["LICENSOR_DATABASE_URL"] = database_url or stack.enter_context(
            fresh_postgres_database()
        )
        database = env["LICENSOR_DATABASE_URL"].rsplit("/", 1)[1]
    elif backend != "sqlite":
        raise SystemExit(f"unknown backend {backend!r}")
    port = free_port()
    cmd = [str(exe), "serve", "--workers", str(workers or args.workers), "--port", str(port)]
    root = f"http://127.0.0.1:{port}"
    shown = [f"LICENSOR_DATA_DIR={data_dir}", *(f"{k}={v}" for k, v in (extra_env or {}).items())]
    if backend == "postgres":
        shown.append(f"LICENSOR_DATABASE_URL={env['LICENSOR_DATABASE_URL']}")
    print(f"{label}{backend}:", " ".join(shown), shlex.join(cmd), flush=True)
    pid = stack.enter_context(running(cmd, root + "/health", env, cwd=data_dir))
    t0 = time.monotonic()
    keys, free, api_key, _ = seed(exe, root, env, args.keys, args.unlimited)
    print(f"  seeded {len(keys)} keys in {time.monotonic() - t0:.1f} s", flush=True)
    if after_seed is not None:
        after_seed(root, api_key)
    instance_keys: list[str] = []
    if "checkin" in scenarios:
        t0 = time.monotonic()
        instance_keys = seed_instance_keys(root, api_key, args.instance_keys)
        print(
            f"  seeded {len(instance_keys)} instance keys in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
    targets = []
    if "validate" in scenarios:
        bodies = [json.dumps({"license_key": k}) for k in keys]
        path = write_bodies(tmp, f"validate-{slug}", bodies)
        url = root + "/licenses/validate"
        preflight(url, bodies[0], 200, {"valid": True, "state": "valid"})
        targets.append(
            (Result(f"{label}{backend} validate", "", database=database), url, path, pid)
        )
    if "activate" in scenarios:
        bodies = [json.dumps({"license_key": k, "name": "bench"}) for k in free]
        path = write_bodies(tmp, f"activate-{slug}", bodies)
        url = root + "/licenses/activate"
        preflight(url, bodies[0], 201, {"name": "bench"})
        targets.append(
            (Result(f"{label}{backend} activate", "", database=database), url, path, pid)
        )
    if "checkin" in scenarios:
        # One instance per key; every answer is `active: true`, signed, and the key's
        # last check-in is recorded (at most once a second per key and process).
        lines = [
            f"{k} " + json.dumps({"instanceId": f"bench-host-{i}", "version": "1.0.0"})
            for i, k in enumerate(instance_keys)
        ]
        path = write_bodies(tmp, f"checkin-{slug}", lines)
        url = root + "/api/v1/licensing/validate"
        token, body = lines[0].split(" ", 1)
        answer = preflight(url, body, 200, None, {"Authorization": f"Bearer {token}"})
        if answer.json()["license"]["active"] is not True:
            raise SystemExit(f"preflight {url}: not active: {answer.text[:300]}")
        targets.append((Result(f"{label}{backend} checkin", "", database=database), url, path, pid))
    unknown = set(scenarios) - {"validate", "activate", "checkin"}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return targets


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--keys", type=int, default=1000, help="license keys to seed")
    p.add_argument("--unlimited", type=int, default=100, help="of which unlimited (activate)")
    p.add_argument("--instance-keys", type=int, default=100, help="instance keys (checkin)")
    add_load_options(p)
    p.add_argument("--scenarios", default="validate,activate,checkin", help="comma-separated")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="LABEL=LICENSOR",
        help="also measure another build, e.g. before=/tmp/old/.venv/bin/licensor",
    )
    p.add_argument(
        "--also-env",
        action="append",
        default=[],
        metavar="LABEL=NAME=VALUE[,NAME=VALUE]",
        help="also measure this build with more settings, e.g. 'audit off=LICENSOR_AUDIT=off'",
    )
    return p.parse_args()


def main() -> int:
    args = parse_args()
    if shutil.which(args.wrk) is None:
        print("wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk", file=sys.stderr)
        print("(macOS: brew install wrk). Then run `make bench` again.", file=sys.stderr)
        return 2
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    print(f"host: {os.cpu_count()} CPUs, load {os.getloadavg()}, {time.strftime('%F %T %Z')}")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="licensor-bench-")))
        targets: list[tuple[Result, str, Path, int]] = []

        base_port = free_port()
        base_cmd = baseline_command(args, base_port)
        base_url = f"http://127.0.0.1:{base_port}/licenses/validate"
        print("baseline:", shlex.join(base_cmd), flush=True)
        base_pid = stack.enter_context(running(base_cmd, base_url))
        baseline = Result("baseline (bare ASGI)", "")

        variants: list[tuple[str, Path, dict[str, str]]] = [("", BIN / "licensor", {})]
        for extra in args.also:
            label, _, exe = extra.partition("=")
            variants.append((label + " ", Path(exe), {}))
        for extra in args.also_env:
            label, _, settings = extra.partition("=")
            env = dict(item.split("=", 1) for item in settings.split(",") if item)
            variants.append((label + " ", BIN / "licensor", env))
        for label, exe, env in variants:
            for backend in backends:
                targets += start_target(args, stack, tmp, label, exe, backend, scenarios, env)

        base_bodies = write_bodies(tmp, "baseline", [json.dumps({"license_key": "x" * 29})])
        if targets:
            base_bodies = targets[0][2]
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            base_rps = measure(args, baseline, base_url, base_bodies, base_pid)
            baseline.ratios.append(1.0)
            for result, url, path, pid in targets:
                result.ratios.append(measure(args, result, url, path, pid) / base_rps)

    return report(args, baseline, [t[0] for t in targets])


def report(args: argparse.Namespace, baseline: Result, results: list[Result]) -> int:
    print()
    print(
        f"medians of {args.rounds} round(s), {args.duration:g} s each, -c{args.connections}, "
        f"{args.workers} server workers"
    )
    print(
        "| scenario | req/s | p50 ms | p99 ms | ratio to baseline | server CPU µs/req "
        "| PostgreSQL CPU µs/req | load | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for res in [baseline, *results]:
        m = res.median
        db = f"{m(res.db_cpu_us):.0f}" if res.database else "-"
        print(
            f"| {res.name} | {m(res.rps):.0f} | {m(res.p50_ms):.2f} | {m(res.p99_ms):.2f} | "
            f"{m(res.ratios):.2f}x | {m(res.cpu_us):.0f} | {db} "
            f"| {m(res.loads):.2f} | {res.non_2xx} |"
        )
        if res.non_2xx or res.timeouts:
            failed = True
    print()
    for res in [baseline, *results]:
        ratios = ", ".join(f"{x:.2f}" for x in res.ratios)
        print(f"{res.name}: ratios per round [{ratios}]; command: {res.command}")
        if res.socket_errors or res.timeouts:
            print(f"  socket errors {res.socket_errors}, timeouts {res.timeouts}")
    for res in results:
        if res.name == "sqlite validate":
            ok = res.median(res.ratios) >= TARGET_RATIO and res.median(res.p99_ms) < TARGET_P99_MS
            print(
                f"target (sqlite validate >= {TARGET_RATIO}x baseline, p99 < {TARGET_P99_MS:g} ms):"
                f" {'met' if ok else 'NOT met'}"
            )
    if args.json:
        rows = [
            {
                "name": r.name,
                "command": r.command,
                "rps": r.rps,
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "ratios": r.ratios,
                "loads": r.loads,
                "cpu_us_per_request": r.cpu_us,
                "postgres_cpu_us_per_request": r.db_cpu_us,
                "non_2xx": r.non_2xx,
                "timeouts": r.timeouts,
                "socket_errors": r.socket_errors,
            }
            for r in [baseline, *results]
        ]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if failed:
        print("FAILED: non-2xx answers or timeouts (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
