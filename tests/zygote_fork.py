"""The zygote's side of tests/zygote.py: import what `licensor` commands need, then fork
a child per request on the Unix socket and report its exit status (that module's
docstring has the whole story)."""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import resource
import selectors
import signal
import socket
import sys
import threading
from typing import Any

PRELOAD = (
    "licensor.app",
    "licensor.cli.main",
    "licensor.kit.edge",
    "licensor.delivery.worker",
    "licensor.audit.sealer",
    "licensor.license_key.importer",
    "uvicorn",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.supervisors.multiprocess",
    "uvloop",
    "httptools",
)


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    from licensor.cli.main import command

    command()  # the CLI's command tree, built once here rather than in every child
    from licensor.config import get_settings

    # what a child must not inherit: none of it exists yet
    assert threading.active_count() == 1, threading.enumerate()
    assert get_settings.cache_info().currsize == 0, "settings read in the zygote"
    from sqlalchemy.engine import Engine

    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, Engine)], "an engine in the zygote"
    # The preloaded heap out of the collector's sight, in the zygote and so in every child:
    # a child's full collection (the app's start-up one among them) walks only what the
    # child made, not these objects again (132 ms per child, measured).
    gc.freeze()


def serve(path: str) -> None:
    """The zygote's loop: fork a child per request, report its exit, until stdin closes."""
    handlers = {s: signal.getsignal(s) for s in signal.valid_signals()}
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _events in selector.select():
            if key.data == "parent":
                if not os.read(sys.stdin.fileno(), 4096):
                    return  # the test process is gone; the children live on, as Popen's
            elif key.data == "accept":
                conn, _addr = listener.accept()
                child = _fork(conn, handlers)
                if child is not None:
                    children[child[0]] = (child[1], conn)
                    selector.register(child[0], selectors.EVENT_READ, "child")
            else:
                pid, conn = children.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _pid, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):  # unless the test let go of it
                    conn.sendall(json.dumps({"returncode": code}).encode() + b"\n")
                conn.close()


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    conn.settimeout(30)
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    size = int.from_bytes(data[:8], "big")
    while len(data) < 8 + size:
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise ConnectionError("request cut short")
        data += chunk
    request: dict[str, Any] = json.loads(data[8 : 8 + size])
    return request, fds


def _fork(conn: socket.socket, handlers: dict[Any, Any]) -> tuple[int, int] | None:
    """Fork the request's child; (its pidfd, its pid), or None when the request failed."""
    try:
        request, fds = _read_request(conn)
    except (OSError, ValueError) as e:
        conn.close()
        sys.stderr.write(f"tests.zygote: bad request: {e}\n")
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(request, fds, handlers)  # never returns
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    conn.settimeout(None)
    # (if the test process is gone, the child runs on and is reaped as usual)
    with contextlib.suppress(OSError):
        socket.send_fds(conn, [json.dumps({"pid": pid}).encode() + b"\n"], [pidfd])
    return pidfd, pid


def _child(request: dict[str, Any], fds: list[int], handlers: dict[Any, Any]) -> None:
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        for sig, handler in handlers.items():
            if handler is not None and handler != signal.getsignal(sig):
                signal.signal(sig, handler)
        if request["nofile"] is not None:
            limit = int(request["nofile"])
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = _run(list(request["argv"]))
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            _finish()
        finally:
            os._exit(code)


def _run(argv: list[str]) -> int:
    """`python -m licensor ARGV` in this process: its exit code."""
    import runpy

    sys.argv = ["-m", *argv]  # run_module puts licensor/__main__.py first, as -m does
    try:
        runpy.run_module("licensor", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        sys.stderr.write(f"{e.code}\n")
        return 1
    return 0


def _finish() -> None:
    """What the interpreter does at exit: threading's exit hooks and joining the other
    non-daemon threads (its private `_shutdown`, as Py_FinalizeEx calls it), atexit, flush."""
    getattr(threading, "_shutdown")()  # noqa: B009
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
