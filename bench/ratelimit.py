"""What the rate limiter costs on POST /licenses/validate: limits on (far above the load)
against limits off, in the same run, on each backend, with counters in memory and in Redis.

`python bench/ratelimit.py --help`. For each backend it starts three `licensor serve
--workers 2` servers on fresh databases, each seeded with the same number of keys (see
bench/validate.py, whose harness this reuses): `LICENSOR_RATE_LIMITS=false`; limits on
with memory counters; limits on with Redis counters (`LICENSOR_REDIS_URL`, a key prefix
of its own, deleted afterwards). The limits are set to 10^9 a minute, so every request is
counted (per address and per key, an HMAC of the key for its name) and none refused. Rounds
are interleaved (off, memory, Redis, for each backend, then again), and each round's
ratio is on / off for the same backend in that round; the summary shows medians and the
target: each ratio >= 0.9. Exits 1 on any non-2xx answer (a 429 would be one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from support import BIN, LIMITS_ABOVE_LOAD, Result, add_load_options, measure
from validate import start_target

TARGET = 0.9
Target = tuple[Result, str, Path, int]  # what start_target gives: result, url, bodies, pid
LIMITS = LIMITS_ABOVE_LOAD


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--counters", default="memory,redis", help="comma-separated")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--keys", type=int, default=1000, help="license keys to seed")
    add_load_options(p)
    p.add_argument("--quick", action="store_true", help="1 round of 3 s, 1 s warm-up, 200 keys")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup, args.keys = 1, 3.0, 1.0, 200
    args.unlimited = 0
    args.instance_keys = 0
    return args


def clear_redis(url: str, prefix: str) -> None:
    from limits.aio.storage import RedisStorage

    async def reset() -> object:
        return await RedisStorage("async+" + url, key_prefix=prefix).reset()

    asyncio.run(reset())


def main() -> int:
    args = parse_args()
    if shutil.which(args.wrk) is None:
        print("wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk", file=sys.stderr)
        return 2
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    counters = [c.strip() for c in args.counters.split(",") if c.strip()]
    print(f"host: {os.cpu_count()} CPUs, load {os.getloadavg()}, {time.strftime('%F %T %Z')}")
    print("command:", " ".join([sys.executable, *sys.argv]))
    exe = BIN / "licensor"
    rows: list[tuple[str, Target, list[Target]]] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="licensor-rl-")))
        for backend in backends:
            off_env = {"LICENSOR_RATE_LIMITS": "false"}
            off = start_target(args, stack, tmp, "off ", exe, backend, ["validate"], off_env)[0]
            ons = []
            for kind in counters:
                env = dict(LIMITS)
                if kind == "redis":
                    prefix = f"licensor-bench-{uuid.uuid4().hex[:12]}"
                    env |= {"LICENSOR_REDIS_URL": args.redis_url, "LICENSOR_REDIS_PREFIX": prefix}
                    stack.callback(clear_redis, args.redis_url, prefix)
                elif kind != "memory":
                    raise SystemExit(f"unknown counters {kind!r}")
                label = f"{kind} "
                ons.append(
                    start_target(args, stack, tmp, label, exe, backend, ["validate"], env)[0]
                )
            rows.append((backend, off, ons))
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            for _, (off_result, url, path, pid), ons in rows:
                off_rps = measure(args, off_result, url, path, pid)
                off_result.ratios.append(1.0)
                for on_result, on_url, on_path, on_pid in ons:
                    rps = measure(args, on_result, on_url, on_path, on_pid)
                    on_result.ratios.append(rps / off_rps)
    return report(args, rows)


def report(args: argparse.Namespace, rows: list[tuple[str, Target, list[Target]]]) -> int:
    print()
    print(
        f"medians of {args.rounds} round(s), {args.duration:g} s each, -c{args.connections}, "
        f"{args.workers} server workers, {args.keys} keys"
    )
    print("| validate | req/s | p99 ms | server CPU µs/req | on / off | target |")
    print("|---|---:|---:|---:|---:|---|")
    failed = False
    met = True
    for _, (off, *_), ons in rows:
        results = [off, *(r[0] for r in ons)]
        for res in results:
            ratio = statistics.median(res.ratios)
            ok = res is off or ratio >= TARGET
            met = met and ok
            mark = "-" if res is off else ("met" if ok else "NOT met")
            print(
                f"| {res.name} | {res.median(res.rps):.0f} | {res.median(res.p99_ms):.2f} | "
                f"{res.median(res.cpu_us):.0f} | {ratio:.2f}x | {mark} |"
            )
            failed = failed or bool(res.non_2xx or res.timeouts)
    print()
    for _, (off, *_), ons in rows:
        for res in [off, *(r[0] for r in ons)]:
            ratios = ", ".join(f"{x:.2f}" for x in res.ratios)
            print(f"{res.name}: on/off per round [{ratios}]; wrk: {res.command}")
    print(f"target (every on/off >= {TARGET}x): {'met' if met else 'NOT met'}")
    if failed:
        print("FAILED: non-2xx answers or timeouts (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
