"""Where the suite's CPU and time go: a pytest plugin, and a report over what it wrote.

Run the suite with it (from the repository's root):

    PYTHONPATH=bench .venv/bin/pytest -q -n 3 -p suite_cpu
    .venv/bin/python bench/suite_cpu.py [--dir /tmp/suite-cpu]

Each pytest-xdist worker writes one JSON line per test to `$SUITE_CPU_DIR` (default
/tmp/suite-cpu): its node id, the CPU its process tree spent in it (user + system, the
worker and every process under it: the servers and commands forked by the test zygote,
schemathesis, Chromium; PostgreSQL is not under it), its wall time and its end. The
report prints the CPU and wall time per test file, how many `licensor` processes each
file started, and when each worker ended (an early end is a worker left idle).

Walking /proc twice per test costs CPU too (about 10 ms a test): compare runs made with
the plugin with each other, not with runs made without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, TextIO

DIR = Path(os.environ.get("SUITE_CPU_DIR", "/tmp/suite-cpu"))
TICK = os.sysconf("SC_CLK_TCK")
_start: dict[str, tuple[float, float]] = {}
_out: list[TextIO] = []
_current: list[str] = [""]


def _cpu_seconds(stat: str) -> tuple[int, float]:
    """A /proc/PID/stat line's parent pid and CPU seconds (its own and its reaped children's)."""
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / TICK


def tree_cpu(root: int) -> float:
    """The CPU seconds of `root` and every process under it, alive or reaped by one alive."""
    children: dict[int, list[tuple[int, float]]] = defaultdict(list)
    own = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent, cpu = _cpu_seconds(Path(f"/proc/{entry}/stat").read_text())
        except OSError:
            continue
        if int(entry) == root:
            own = cpu
        children[parent].append((int(entry), cpu))
    total, stack = own, [root]
    while stack:
        for pid, cpu in children.pop(stack.pop(), []):
            total += cpu
            stack.append(pid)
    return total


def _write(kind: str, row: list[Any]) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return
    if not _out:
        DIR.mkdir(parents=True, exist_ok=True)
        _out.append((DIR / f"{worker}.jsonl").open("a"))
    _out[0].write(json.dumps([kind, *row]) + "\n")
    _out[0].flush()


def pytest_configure(config: Any) -> None:
    """Count the `licensor` processes each test starts (tests/zygote.py's entry)."""
    import tests.zygote as zygote

    original = zygote.licensor_process

    def counted(args: list[str], **kwargs: Any) -> Any:
        _write("fork", [_current[0], args[0]])
        return original(args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "licensor_process", None) is original:
            module.licensor_process = counted  # type: ignore[attr-defined]


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _current[0] = nodeid
    _start[nodeid] = (tree_cpu(os.getpid()), time.time())


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    cpu, began = _start.pop(nodeid)
    now = time.time()
    _write("test", [nodeid, tree_cpu(os.getpid()) - cpu, now - began, now])


def report(folder: Path) -> None:
    cpu: Counter[str] = Counter()
    wall: Counter[str] = Counter()
    forks: Counter[str] = Counter()
    ends: dict[str, tuple[float, float]] = {}
    for path in sorted(folder.glob("gw*.jsonl")):
        first, last = float("inf"), 0.0
        for line in path.read_text().splitlines():
            kind, nodeid, *rest = json.loads(line)
            name = (nodeid or "?").split("::")[0]
            if kind == "fork":
                forks[name] += 1
                continue
            spent, took, end = rest
            cpu[name] += spent
            wall[name] += took
            first, last = min(first, end - took), max(last, end)
        ends[path.stem] = (first, last)
    if not ends:
        sys.exit(f"no gw*.jsonl in {folder}: run the suite with -n N -p suite_cpu first")
    start = min(first for first, _ in ends.values())
    print(f"{'CPU s':>8} {'wall s':>8} {'forks':>5}  file")
    for name, spent in cpu.most_common():
        print(f"{spent:8.1f} {wall[name]:8.1f} {forks[name]:5d}  {name}")
    print(f"{sum(cpu.values()):8.1f} {sum(wall.values()):8.1f} {sum(forks.values()):5d}  all")
    for worker, (_, last) in sorted(ends.items()):
        print(f"{worker} ended at +{last - start:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DIR)
    report(parser.parse_args().dir)
