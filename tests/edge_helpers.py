"""Raw-socket clients and extra `licensor serve` processes for the edge tests."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers import Server, free_port, wait_ready
from tests.zygote import licensor_process


@contextmanager
def serve_with(
    server: Server, env: dict[str, str], *, nofile: int | None = None
) -> Iterator[Server]:
    """Another `licensor serve` on `server`'s database, with extra environment and,
    when given, a lower open-file limit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    other = Server(server.backend, server.settings, url, [url])
    args = ["serve", "--no-migrate", "--port", str(port)]
    proc = licensor_process(args, env={**server.env(), **env}, nofile=nofile)  # tests/zygote.py
    other.processes.append(proc)
    try:
        wait_ready(url, other.processes)
        yield other
    finally:
        other.stop()


def address(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)
    return host, int(port)


def path_of(base_url: str, path: str) -> str:
    """`path` under the base URL's own path prefix (a tenant's `/test`, if any)."""
    rest = base_url.removeprefix("http://").partition("/")[2]
    return ("/" + rest if rest else "") + path


def connect(base_url: str, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(address(base_url), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *headers, "", ""]
    return "\r\n".join(lines).encode()


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(sock: socket.socket) -> Answer | None:
    """One HTTP response from the socket (None when the server closed without one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None if not data else _partial(data)
        data += chunk
    top, _, rest = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(status, headers, rest[:length])


def _partial(data: bytes) -> Answer:
    raise AssertionError(f"incomplete response: {data[:200]!r}")


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server has closed the connection (recv sees EOF or a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
