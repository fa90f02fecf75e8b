"""Where a hot path's time goes: py-spy samples one `licensor serve --workers 1` process
while wrk drives one scenario (validate or check-in) of `bench/validate.py`.

py-spy is not a dependency: `.venv/bin/pip install py-spy` first (it reads another
process's memory, so it needs the right to ptrace it: root, or ptrace_scope 0). Prints
the functions with the most samples, self (the frame on top) and inclusive (anywhere in
the stack), as shares of all samples; `--out` keeps the collapsed stacks.

    cd bench && ../.venv/bin/python profile_hot.py --backend postgres --scenario validate
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

from support import BIN, add_load_options, wrk
from validate import start_target


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", default="postgres", choices=["sqlite", "postgres"])
    p.add_argument("--scenario", default="validate", choices=["validate", "activate", "checkin"])
    p.add_argument("--keys", type=int, default=1000)
    p.add_argument("--unlimited", type=int, default=100)
    p.add_argument("--instance-keys", type=int, default=100)
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    p.add_argument("--out", type=Path, help="also keep py-spy's collapsed stacks here")
    add_load_options(p)
    return p.parse_args()


def summary(stacks: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    anywhere: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames:
            continue
        n = int(count)
        total += n
        names = [
            f.split(" (")[0] + " " + f.split(" (")[-1].rsplit(":", 1)[0].rsplit("/", 1)[-1]
            for f in frames.split(";")
        ]
        own[names[-1]] += n
        for name in set(names):
            anywhere[name] += n
    print(f"{total} samples")
    for title, counter in (("self", own), ("inclusive", anywhere)):
        print(f"\n{title}:")
        for name, n in counter.most_common(top):
            print(f"  {100 * n / total:5.1f}%  {name.rstrip(')')}")


def main() -> int:
    args = parse_args()
    spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    env = dict(item.split("=", 1) for item in args.env)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="licensor-prof-")))
        scenarios = [args.scenario]
        targets = start_target(
            args, stack, tmp, "", BIN / "licensor", args.backend, scenarios, env, workers=1
        )
        _, url, bodies, pid = targets[0]
        wrk(args, url, bodies, args.warmup)
        stacks = args.out or tmp / "stacks.txt"
        record = [spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
        record += ["--rate", str(args.rate)]
        record += ["--duration", str(int(args.duration)), "--output", str(stacks), "--nonblocking"]
        load = threading.Thread(target=wrk, args=(args, url, bodies, args.duration))
        load.start()
        subprocess.run(record, check=True, capture_output=True)
        load.join()
        summary(stacks, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
