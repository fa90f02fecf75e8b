"""The edge (`licensor/kit/edge.py`): body and header limits, read timeouts and the
concurrency cap meet every request before routing, with HTTP's statuses and the one
JSON error shape. Raw sockets, because a well-behaved client never sends these."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from licensor.config import Settings
from licensor.kit.edge import effective_concurrency
from tests import net
from tests.edge_helpers import (
    closed_by_server,
    connect,
    head,
    path_of,
    read_answer,
    serve_with,
)
from tests.servers import Server, Tenant

MIB = 1024 * 1024
PUBLIC = ("/customers", "/licenses/validate", "/licenses/activate", "/api/v1/licensing/validate")


@pytest.fixture(scope="module")
def brisk(server: Server) -> Iterator[Server]:
    """A server on the same database whose read timeouts are one second."""
    env = {"LICENSOR_HEADER_TIMEOUT_SECONDS": "1", "LICENSOR_BODY_TIMEOUT_SECONDS": "1"}
    with serve_with(server, env) as other:
        yield other


def refused(sock: socket.socket, status: int, code: str) -> None:
    answer = read_answer(sock)
    assert answer is not None, "the server closed without an answer"
    assert answer.status == status, (answer.status, answer.body)
    assert answer.json()["code"] == code
    assert set(answer.json()) == {"code", "message"}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert closed_by_server(sock)


@pytest.mark.parametrize("path", PUBLIC)
def test_content_length_over_the_limit_is_413_before_a_byte_of_body(
    tenant: Tenant, path: str
) -> None:
    """100 MiB announced, none sent: the answer comes from Content-Length alone."""
    with connect(tenant.base_url, timeout=5) as sock:
        sock.sendall(
            head(
                "POST",
                path_of(tenant.base_url, path),
                "Content-Type: application/json",
                f"Content-Length: {100 * MIB}",
            )
        )
        refused(sock, 413, "PAYLOAD_TOO_LARGE")


def test_streamed_body_is_cut_as_soon_as_it_passes_the_limit(tenant: Tenant) -> None:
    """A chunked body with no end: 413 once a little over 1 MiB has been sent."""
    with connect(tenant.base_url, timeout=5) as sock:
        sock.sendall(
            head(
                "POST",
                path_of(tenant.base_url, "/customers"),
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        piece = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
        sent = 0
        try:
            while sent < 3 * MIB:
                sock.sendall(piece)
                sent += 64 * 1024
        except (BrokenPipeError, ConnectionResetError):
            pass
        refused(sock, 413, "PAYLOAD_TOO_LARGE")


def test_a_body_within_the_limit_reaches_the_routes(tenant: Tenant) -> None:
    padded = b'{"email": "a@example.test", "name": "A"' + b" " * (MIB - 100) + b"}"
    anonymous = net.post(tenant.base_url + "/customers", content=padded)
    assert anonymous.status_code == 401, anonymous.text
    with tenant.http() as http:
        made = http.post("/customers", content=padded, headers={"content-type": "application/json"})
    assert made.status_code == 200, made.text


def test_headers_over_the_cap_are_431_while_they_stream_in(tenant: Tenant) -> None:
    """A header that never ends is refused once it passes the cap: memory stays bounded."""
    with connect(tenant.base_url, timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Big: ")
        try:
            for _ in range(1600):  # up to 100 MiB
                sock.sendall(b"a" * 64 * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        refused(sock, 431, "HEADERS_TOO_LARGE")


def test_headers_over_the_cap_are_431_when_complete(tenant: Tenant) -> None:
    url = tenant.base_url + "/licenses/validate"
    big = net.post(url, json={"license_key": "k"}, headers={"x-pad": "a" * 17 * 1024})
    assert (big.status_code, big.json()["code"]) == (431, "HEADERS_TOO_LARGE")
    fine = net.post(url, json={"license_key": "k"}, headers={"x-pad": "a" * 15 * 1024})
    assert fine.json() == {"valid": False}


def test_an_idle_connection_is_closed_after_the_header_timeout(brisk: Server) -> None:
    with connect(brisk.base_url, timeout=5) as sock:
        started = time.monotonic()
        assert closed_by_server(sock)
        assert 0.8 < time.monotonic() - started < 4


def test_headers_that_stop_coming_are_408(brisk: Server) -> None:
    with connect(brisk.base_url, timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        refused(sock, 408, "REQUEST_TIMEOUT")


def test_headers_sent_byte_by_byte_are_408_at_the_deadline(brisk: Server) -> None:
    """Slowloris: each byte arrives in time, the whole head does not."""
    with connect(brisk.base_url, timeout=5) as sock:
        try:
            for byte in b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: abcdefghij":
                sock.send(bytes([byte]))
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        refused(sock, 408, "REQUEST_TIMEOUT")


@pytest.mark.parametrize("path", PUBLIC)
def test_a_body_that_stops_coming_is_408(brisk: Server, path: str) -> None:
    with connect(brisk.base_url, timeout=5) as sock:
        sock.sendall(
            head("POST", path, "Content-Type: application/json", "Content-Length: 100")
            + b'{"license'
        )
        refused(sock, 408, "REQUEST_TIMEOUT")


def test_a_kept_alive_connection_serves_many_requests(brisk: Server) -> None:
    """The timers do not cut a healthy keep-alive client between or during requests."""
    with net.client(base_url=brisk.base_url) as http:
        for _ in range(3):
            assert http.get("/health").status_code == 200
            time.sleep(0.6)  # under the keep-alive timeout, over half the header timeout
        assert http.post("/licenses/validate", json={"license_key": "k"}).json() == {"valid": False}


def test_the_concurrency_cap_is_503(server: Server) -> None:
    env = {"LICENSOR_MAX_CONCURRENCY": "4", "LICENSOR_HEADER_TIMEOUT_SECONDS": "60"}
    with serve_with(server, env) as capped:
        idle = [connect(capped.base_url) for _ in range(4)]
        try:
            time.sleep(0.2)
            with connect(capped.base_url, timeout=5) as sock:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(head("GET", "/health"))
                refused(sock, 503, "SERVICE_UNAVAILABLE")
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        assert net.get(capped.base_url + "/health").status_code == 200


def test_half_open_connections_do_not_lock_clients_out(server: Server) -> None:
    """300 connections that never send a byte, against 256 open files: a client still
    gets an answer at once (503 while the flood holds), and 200 once it is timed out."""
    env = {"LICENSOR_HEADER_TIMEOUT_SECONDS": "2"}
    with serve_with(server, env, nofile=256) as small:
        flood = []
        try:
            for _ in range(300):
                flood.append(connect(small.base_url))
            started = time.monotonic()
            first = net.get(small.base_url + "/health", timeout=5)
            assert first.status_code in (200, 503), first.text
            assert first.json().get("code", "SERVICE_UNAVAILABLE") == "SERVICE_UNAVAILABLE"
            while True:
                answer = net.get(small.base_url + "/health", timeout=5)
                if answer.status_code == 200:
                    break
                assert time.monotonic() - started < 10, "still refused after the timeout"
                time.sleep(0.2)
        finally:
            for sock in flood:
                sock.close()


def test_the_cap_fits_under_the_open_file_limit() -> None:
    settings = Settings(max_concurrency=1000, db_pool_size=10)
    assert effective_concurrency(settings, soft_fd_limit=1 << 20) == 1000
    assert effective_concurrency(settings, soft_fd_limit=256) == 256 - 64 - 60
    assert effective_concurrency(settings, soft_fd_limit=100) == 1
