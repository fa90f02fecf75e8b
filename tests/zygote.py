"""A fork server for the tests' `licensor` processes (`serve`, `worker`, a CLI command).

Starting `python -m licensor serve` spends most of its start importing licensor.app,
FastAPI, SQLAlchemy and uvicorn. So each test process (each pytest-xdist worker) starts,
on its first `licensor_process()`, one zygote: `python -m tests.zygote SOCKET` imports
what the commands need, and nothing else happens in it (no threads, event loops,
database connections or settings read). Per request on its Unix socket (argv, the whole
environment, cwd, and the stdin/stdout/stderr file descriptors) it forks a child that
takes those descriptors, that environment and cwd, closes every other descriptor, puts
the signal handlers back as the interpreter started them, and runs `python -m
licensor`'s entry (runpy, `sys.argv` set) in process: a real OS process on a real port.
The zygote sends the child's pid (and a pidfd for signalling it) at once and its exit
status when it ends; `ZygoteProcess` is the Popen-like handle on that connection.

`LICENSOR_TEST_ZYGOTE=off` turns it off: `licensor_process()` is then `subprocess.Popen`
of `python -m licensor ...` as before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Union

Process = Union[subprocess.Popen[bytes], "ZygoteProcess"]
# What `stdin`/`stdout`/`stderr` take: None (inherit), subprocess.DEVNULL or STDOUT, an
# open file or a descriptor, as for subprocess.Popen
Stream = None | int | IO[Any]

ROOT = Path(__file__).resolve().parent.parent


def enabled() -> bool:
    return os.environ.get("LICENSOR_TEST_ZYGOTE", "on").lower() not in ("off", "0", "false")


def licensor_process(
    args: list[str],
    *,
    env: dict[str, str],
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    nofile: int | None = None,
) -> Process:
    """`python -m licensor ARGS` with `env`, from the zygote (or subprocess.Popen when it
    is off); `nofile`: the child's open-file limit (soft and hard)."""
    cmd = [sys.executable, "-m", "licensor", *args]
    if not enabled():
        limit = nofile

        def lower() -> None:
            assert limit is not None
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        preexec = lower if limit is not None else None
        return subprocess.Popen(
            cmd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, preexec_fn=preexec
        )
    return _zygote().start(cmd, args, env, (stdin, stdout, stderr), nofile)


# -- the test process's side ---------------------------------------------------------------


class ZygoteProcess:
    """A zygote's child, as much of subprocess.Popen as the tests use."""

    def __init__(self, args: list[str], conn: socket.socket) -> None:
        self.args = args
        self.returncode: int | None = None
        self._conn = conn
        self._buffer = b""
        data, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        self._buffer = data
        if not fds:
            conn.close()
            raise RuntimeError(f"the zygote did not start {args}: {data!r}")
        self._pidfd = fds[0]
        first = self._message(None)
        assert first is not None
        self.pid: int = int(first["pid"])

    def _message(self, timeout: float | None) -> dict[str, Any] | None:
        """The next line from the zygote, waiting up to `timeout` (None: forever)."""
        self._conn.settimeout(timeout)
        while b"\n" not in self._buffer:
            try:
                chunk = self._conn.recv(4096)
            except (TimeoutError, BlockingIOError):
                return None
            if not chunk:
                raise RuntimeError(f"the zygote went away while {self.args} ran")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def _update(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            message = self._message(timeout)
            if message is not None:
                self.returncode = int(message["returncode"])
                self._close()
        return self.returncode

    def poll(self) -> int | None:
        return self._update(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._update(timeout)
        if code is None:
            assert timeout is not None
            raise subprocess.TimeoutExpired(self.args, timeout)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            # the pidfd names this process even once its pid is reused
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        self._conn.close()

    def __del__(self) -> None:
        if getattr(self, "_pidfd", -1) >= 0:
            self._close()


class _Zygote:
    """This test process's zygote: started once, stopped at exit."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.folder = tempfile.mkdtemp(prefix="licensor-zygote-")
        self.path = os.path.join(self.folder, "socket")
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote", self.path],
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.PIPE,  # its end of file: this process is gone
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if ready != b"ready\n":
            self.proc.kill()
            raise RuntimeError(f"the zygote did not start: {ready!r}")

    def start(
        self,
        cmd: list[str],
        args: list[str],
        env: dict[str, str],
        streams: tuple[Stream, Stream, Stream],
        nofile: int | None,
    ) -> ZygoteProcess:
        request = {"argv": args, "env": env, "cwd": os.getcwd(), "nofile": nofile}
        payload = json.dumps(request).encode()
        with ExitFds() as opened:
            fds = [opened.fd_of(stream, n) for n, stream in enumerate(streams)]
            if streams[2] == subprocess.STDOUT:
                fds[2] = fds[1]
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.connect(self.path)
                socket.send_fds(conn, [len(payload).to_bytes(8, "big") + payload], fds)
                return ZygoteProcess(cmd, conn)
            except BaseException:
                conn.close()
                raise

    def stop(self) -> None:
        if os.getpid() != self.owner:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class ExitFds:
    """The descriptors to send for a request's streams; /dev/null closed afterwards."""

    def __init__(self) -> None:
        self.devnull: int | None = None

    def __enter__(self) -> ExitFds:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.devnull is not None:
            os.close(self.devnull)

    def fd_of(self, stream: Stream, n: int) -> int:
        if stream is None or stream == subprocess.STDOUT:
            return n  # inherit, as Popen does (STDOUT: replaced by the caller)
        if stream == subprocess.DEVNULL:
            if self.devnull is None:
                self.devnull = os.open(os.devnull, os.O_RDWR)
            return self.devnull
        if isinstance(stream, int):
            return stream
        return stream.fileno()


_lock = threading.Lock()
_running: _Zygote | None = None


def _zygote() -> _Zygote:
    global _running
    with _lock:
        if _running is None or _running.owner != os.getpid():
            _running = _Zygote()
            atexit.register(_running.stop)
        return _running


if __name__ == "__main__":
    from tests.zygote_fork import serve

    serve(sys.argv[1])
