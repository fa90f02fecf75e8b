"""What webhooks cost on the public license path: POST /licenses/validate and
/licenses/activate with an endpoint subscribed to every event ("on") against the same
build with no endpoint ("off"), in the same run, on each backend.

`python bench/webhooks.py --help`. For each backend it starts two `licensor serve
--workers 2` servers on fresh databases seeded alike (bench/validate.py's harness). On
"on", the business has one enabled endpoint with no filter, so every activation queues a
`license_key_instance.activated` delivery in its own raw transaction (the seat statement
returns the endpoint, one INSERT writes the delivery, its body AES-GCM encrypted).
Validate changes nothing and queues nothing. The servers run without their delivery
worker (`LICENSOR_MAIL_WORKER=false`): this measures the request path, what a change
costs to enqueue; sending is the worker's, which may run as `licensor worker` elsewhere.
Rounds are interleaved; each round's ratio is on / off for the same backend and
scenario. Targets: validate >= 0.9x, activate >= 0.7x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from support import BIN, Result, add_load_options, measure
from validate import start_target

TARGETS = {"validate": 0.9, "activate": 0.7}
Target = tuple[Result, str, Path, int]
# The servers never send: no worker; the URL only has to pass the check at create.
SERVER_ENV = {"LICENSOR_MAIL_WORKER": "false", "LICENSOR_WEBHOOKS_ALLOW_PRIVATE": "true"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--keys", type=int, default=1000, help="license keys to seed")
    p.add_argument("--unlimited", type=int, default=100, help="of which unlimited (activate)")
    add_load_options(p)
    p.add_argument("--quick", action="store_true", help="1 round of 3 s, 1 s warm-up, 200 keys")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup, args.keys = 1, 3.0, 1.0, 200
    args.instance_keys = 0
    return args


def subscribe(root: str, api_key: str) -> None:
    """One endpoint, every event type."""
    made = httpx.post(
        root + "/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "description": "bench"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    made.raise_for_status()
    print(f"  webhook endpoint {made.json()['id']} (every event)", flush=True)


def main() -> int:
    args = parse_args()
    if shutil.which(args.wrk) is None:
        print("wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk", file=sys.stderr)
        return 2
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"host: {os.cpu_count()} CPUs, load {os.getloadavg()}, {time.strftime('%F %T %Z')}")
    print("command:", " ".join([sys.executable, *sys.argv]))
    exe = BIN / "licensor"
    scenarios = ["validate", "activate"]
    pairs: list[tuple[Target, Target]] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="licensor-wh-")))
        for backend in backends:
            off = start_target(args, stack, tmp, "off ", exe, backend, scenarios, SERVER_ENV)
            on = start_target(
                args, stack, tmp, "on ", exe, backend, scenarios, SERVER_ENV, subscribe
            )
            pairs.extend(zip(off, on, strict=True))
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            for (off_result, url, path, pid), (on_result, on_url, on_path, on_pid) in pairs:
                off_rps = measure(args, off_result, url, path, pid)
                off_result.ratios.append(1.0)
                rps = measure(args, on_result, on_url, on_path, on_pid)
                on_result.ratios.append(rps / off_rps)
    return report(args, pairs)


def report(args: argparse.Namespace, pairs: list[tuple[Target, Target]]) -> int:
    print()
    print(
        f"medians of {args.rounds} round(s), {args.duration:g} s each, -c{args.connections}, "
        f"{args.workers} server workers, {args.keys} keys"
    )
    print("| scenario | req/s | p99 ms | server CPU µs/req | on / off | target |")
    print("|---|---:|---:|---:|---:|---|")
    failed = False
    met = True
    for (off, *_), (on, *_) in pairs:
        target = TARGETS[on.name.rsplit(" ", 1)[1]]
        for res in (off, on):
            ratio = statistics.median(res.ratios)
            ok = res is off or ratio >= target
            met = met and ok
            mark = "-" if res is off else (f"met (>= {target})" if ok else f"NOT met (>= {target})")
            print(
                f"| {res.name} | {res.median(res.rps):.0f} | {res.median(res.p99_ms):.2f} | "
                f"{res.median(res.cpu_us):.0f} | {ratio:.2f}x | {mark} |"
            )
            failed = failed or bool(res.non_2xx or res.timeouts)
    print()
    for _, (on, *_) in pairs:
        ratios = ", ".join(f"{x:.2f}" for x in on.ratios)
        print(f"{on.name}: on/off per round [{ratios}]; wrk: {on.command}")
    print(f"targets: {'met' if met else 'NOT met'}")
    if failed:
        print("FAILED: non-2xx answers or timeouts (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
