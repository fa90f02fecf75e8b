"""How validate and activate scale with server processes on one PostgreSQL, and with a
streaming read replica (LICENSOR_DATABASE_READ_URL), measured in one run.

    .venv/bin/python bench/scaling.py --rounds 3 --duration 10

Targets: `licensor serve --workers N` for each N of `--processes` (default 1,2,4) on a
fresh database of the machine's PostgreSQL, and (unless `--no-replica`) `--workers 2` on a
primary of its own with a `pg_basebackup` replica (tests/pgcluster.py; validate reads the
replica, activate writes the primary). Every target is reported as a ratio to the bare
ASGI baseline (two uvicorn workers) measured in the same rounds. The machine's core count
bounds every step: on 2 cores, 4 processes share the same 2 cores as the load generator
and PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from support import BIN, HERE, Result, add_load_options, free_port, measure, running, write_bodies
from validate import report, start_target

sys.path.insert(0, str(HERE.parent))
from tests.pgcluster import primary_and_replica


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--processes", default="1,2,4", help="server processes per target")
    p.add_argument("--no-replica", action="store_true", help="leave the replica target out")
    p.add_argument("--keys", type=int, default=1000)
    p.add_argument("--unlimited", type=int, default=100)
    p.add_argument("--instance-keys", type=int, default=0)
    p.add_argument("--scenarios", default="validate,activate")
    p.add_argument("--json", type=Path)
    add_load_options(p)
    return p.parse_args()


def main() -> int:
    args = parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    print(f"host: {os.cpu_count()} CPUs, load {os.getloadavg()}, {time.strftime('%F %T %Z')}")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="licensor-scale-")))
        base_port = free_port()
        base_cmd = [
            str(BIN / "uvicorn"), "baseline_app:app", "--app-dir", str(HERE),
            "--port", str(base_port), "--workers", str(args.workers), "--http", "httptools",
            "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        base_url = f"http://127.0.0.1:{base_port}/licenses/validate"
        print("baseline:", shlex.join(base_cmd), flush=True)
        base_pid = stack.enter_context(running(base_cmd, base_url))
        baseline = Result("baseline (bare ASGI)", "")
        exe = BIN / "licensor"
        targets = []
        for n in [int(x) for x in args.processes.split(",") if x]:
            label = f"{n} process{'es' if n > 1 else ''} "
            targets += start_target(args, stack, tmp, label, exe, "postgres", scenarios, workers=n)
        if not args.no_replica:
            primary, replica = stack.enter_context(primary_and_replica())
            primary.sql("CREATE DATABASE licensor")
            env = {"LICENSOR_DATABASE_READ_URL": replica.url("licensor")}
            targets += start_target(
                args, stack, tmp, "replica, 2 processes ", exe, "postgres", scenarios, env,
                database_url=primary.url("licensor"), workers=2,
            )  # fmt: skip
        base_bodies = targets[0][2] if targets else write_bodies(tmp, "b", ['{"license_key":"x"}'])
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            base_rps = measure(args, baseline, base_url, base_bodies, base_pid)
            baseline.ratios.append(1.0)
            for result, url, path, pid in targets:
                result.ratios.append(measure(args, result, url, path, pid) / base_rps)
        return report(args, baseline, [t[0] for t in targets])


if __name__ == "__main__":
    sys.exit(main())
