"""What a stranger's abuse costs the server: huge bodies, huge headers, half-open sockets.

`python bench/edge.py` (`--quick` for smaller sizes). It starts `licensor serve` on a
fresh SQLite data dir and measures, against that one process:

- body: four clients at once POST an unauthenticated body of `--body-mib` MiB to
  `/customers`; the server's resident memory above its idle figure (sampled every 10 ms)
  and what each client got back;
- header: one client sends a header of `--header-mib` MiB; memory and the answer;
- half-open: `--sockets` connections that never send a byte, then a client's
  `GET /health`: its answer and how long it took (under an open-file limit of
  `--nofile` for the server, set with `prlimit`-style `setrlimit` before it starts).

Run it against another checkout (e.g. today's main) with `PYTHONPATH=<checkout>` to
compare; it prints its figures and the exact command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from support import BIN, free_port, wait_ready

MIB = 1024 * 1024


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakRss:
    """The highest resident set size of `pid` while the block runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def status_line(sock: socket.socket) -> str:
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        return f"no answer ({type(exc).__name__})"
    return data.split(b"\r\n", 1)[0].decode("latin-1") or "closed without an answer"


def send_then_read(port: int, head: bytes, body: Callable[[socket.socket], None]) -> str:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(head)
        with contextlib.suppress(OSError):  # the server answered and closed mid-send
            body(sock)
        return status_line(sock)
    finally:
        sock.close()


def stream(total: int, piece: bytes) -> Callable[[socket.socket], None]:
    def send(sock: socket.socket) -> None:
        sent = 0
        while sent < total:
            sock.sendall(piece)
            sent += len(piece)

    return send


def big_bodies(pid: int, port: int, mib: int) -> None:
    head = (
        f"POST /customers HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {mib * MIB}\r\n\r\n"
    ).encode()
    idle = rss_kib(pid)
    started = time.monotonic()
    with PeakRss(pid) as peak, ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: send_then_read(port, head, stream(mib * MIB, b"x" * MIB)), range(4))
        )
    spent = time.monotonic() - started
    print(f"body     4 x {mib} MiB to /customers, unauthenticated")
    print(f"         server memory +{(peak.peak - idle) / 1024:.0f} MiB over idle, {spent:.1f} s")
    print(f"         answers: {sorted(set(answers))}")


def big_header(pid: int, port: int, mib: int) -> None:
    idle = rss_kib(pid)
    started = time.monotonic()
    with PeakRss(pid) as peak:
        answer = send_then_read(
            port,
            b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Big: ",
            stream(mib * MIB, b"a" * (64 * 1024)),
        )
    spent = time.monotonic() - started
    print(f"header   one {mib} MiB header")
    print(f"         server memory +{(peak.peak - idle) / 1024:.0f} MiB over idle, {spent:.1f} s")
    print(f"         answer: {answer}")


def half_open(port: int, sockets: int, nofile: int) -> None:
    flood = []
    try:
        for _ in range(sockets):
            flood.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)
        started = time.monotonic()
        try:
            got = str(httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code)
        except httpx.HTTPError as exc:
            got = f"no answer ({type(exc).__name__})"
        spent = time.monotonic() - started
        print(f"half-open {sockets} idle sockets, server open-file limit {nofile}")
        print(f"         a client's GET /health: {got} after {spent:.2f} s")
    finally:
        for sock in flood:
            sock.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 MiB bodies and headers")
    p.add_argument("--body-mib", type=int, default=100)
    p.add_argument("--header-mib", type=int, default=100)
    p.add_argument("--sockets", type=int, default=300)
    p.add_argument("--nofile", type=int, default=256, help="the server's open-file limit")
    args = p.parse_args()
    if args.quick:
        args.body_mib = args.header_mib = 20
    print("command:", shlex.join([sys.executable, *sys.argv]))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"LICENSOR_DATA_DIR": tmp, "PATH": str(BIN)}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        limit = args.nofile

        def lower_nofile() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        cmd = [str(BIN / "licensor"), "serve", "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, preexec_fn=lower_nofile)
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", proc)
            print(f"server   pid {proc.pid}, idle memory {rss_kib(proc.pid) / 1024:.0f} MiB")
            big_bodies(proc.pid, port, args.body_mib)
            big_header(proc.pid, port, args.header_mib)
            half_open(port, args.sockets, args.nofile)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
