"""The thin handlers answer as FastAPI's own routes do: one table of requests runs
against a server with LICENSOR_FAST_PATH=true and one with false (same database), and
every answer (status, body, content type, authentication challenge) must be identical."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests import net
from tests.edge_helpers import connect, head, path_of, read_answer, serve_with
from tests.servers import Server, Tenant

JSON = "application/json"
CONTENT_TYPES = [
    None,
    "",
    JSON,
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/vnd.licensor+json",
    "application/jsonx",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]
BODIES = [
    b"",
    b"  ",
    b"not json",
    b"{",
    b'{"license_key": "k",}',
    b"\xff\xfe\x00",
    b"null",
    b"[]",
    b"5",
    b'"text"',
    b"{}",
    b'{"license_key": 5}',
    b'{"license_key": null}',
    b'{"license_key": ["k"]}',
    b'{"license_key": ""}',
    b'{"license_key": "a\\u0000b"}',
    b'{"license_key": "a\\u0001b"}',
    b'{"license_key": "' + b"k" * 600 + b'"}',
    b'{"license_key": "\\ud800"}',
    b'{"license_key": "k", "license_key_instance_id": 7}',
    b'{"license_key": "k", "license_key_instance_id": ""}',
    b'{"license_key": "k", "license_key_instance_id": "lki_\\u0007"}',
    b'{"license_key": "k", "name": 5}',
    b'{"license_key": "k", "name": ""}',
    b'{"license_key": "k", "name": "' + b"n" * 301 + b'"}',
    b'{"license_key": "k", "extra": {"deep": [1e999, NaN]}}',
    b'{"license_key": 1' + b"0" * 400 + b"}",
    b'{"version": 5}',
    b'{"version": "1.0", "instanceId": "i"}',
    b'{"license_key": "KEY"}',
    b'{"license_key": "KEY", "name": "pc"}',
    b'{"license_key": "KEY", "license_key_instance_id": "lki_nope"}',
    b'{"license_key": "KEY", "fingerprint": "machine-1"}',
    b'{"license_key": "KEY", "fingerprint": "-bad"}',
    b'{"license_key": "KEY", "fingerprint": 7}',
    b'{"license_key": "KEY", "name": "pc", "fingerprint": "machine-1"}',
    b'{"license_key": "KEY"}   ',
    b'\xef\xbb\xbf{"license_key": "KEY"}',
    b'{"license_key": "KEY", "nonce": null}',
    b'{"license_key": "KEY", "nonce": "short"}',
    b'{"license_key": "KEY", "nonce": 5}',
    b'{"license_key": "nope", "nonce": "0123456789abcdef"}',
    b'{"nonce": "0123456789abcdef"}',
]
ROUTES = [
    "/licenses/validate",
    "/licenses/activate",
    "/licenses/deactivate",
    "/licenses/heartbeat",
]
CHECKIN = "/api/v1/licensing/validate"
AUTHORIZATIONS = [None, "Bearer nope", "Bearer " + "0" * 64, "Basic abc"]


@dataclass
class Pair:
    fast: str  # the tenant's base URL on the thin-path server
    slow: str  # the same on the FastAPI-only server
    key: str  # a license key with activations_limit 0 (activation answers are fixed)
    api_key: str  # the tenant's (the SDK sends it to the public routes too)
    clients: tuple[httpx.Client, httpx.Client]  # kept-alive clients, fast then slow


@pytest.fixture(scope="module")
def pair(server: Server) -> Iterator[Pair]:
    tenant: Tenant = server.tenant()
    with tenant.http() as http:
        product = http.post("/products", json={"name": "P"}).json()
        customer = http.post("/customers", json={"email": "p@example.test", "name": "P"}).json()
        made = http.post(
            "/license_keys",
            json={
                "customer_id": customer["customer_id"],
                "product_id": product["product_id"],
                "activations_limit": 0,
            },
        )
        assert made.status_code == 201, made.text
    with serve_with(server, {"LICENSOR_FAST_PATH": "false"}) as slow:
        suffix = tenant.base_url.removeprefix(server.base_url)
        fast_url, slow_url = tenant.base_url, slow.base_url + suffix
        with net.client(base_url=fast_url) as a, net.client(base_url=slow_url) as b:
            yield Pair(fast_url, slow_url, made.json()["key"], tenant.api_key, (a, b))


def answers(
    pair: Pair, path: str, body: bytes, headers: dict[str, str]
) -> list[tuple[object, ...]]:
    got: list[tuple[object, ...]] = []
    for base in (pair.fast, pair.slow):
        r = net.post(base + path, content=body.replace(b"KEY", pair.key.encode()), headers=headers)
        got.append(
            (
                r.status_code,
                r.content,
                r.headers.get("content-type"),
                r.headers.get("www-authenticate"),
            )
        )
    return got


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_public_routes_answer_alike(pair: Pair, path: str, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    for body in BODIES:
        fast, slow = answers(pair, path, body, headers)
        assert fast == slow, (path, content_type, body[:60])


@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
@pytest.mark.parametrize("content_type", [None, JSON, "text/plain", "application/ld+json"])
def test_checkin_answers_alike(
    pair: Pair, authorization: str | None, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    if authorization is not None:
        headers["authorization"] = authorization
    for body in BODIES:
        fast, slow = answers(pair, CHECKIN, body, headers)
        assert fast == slow, (authorization, content_type, body[:60])


@pytest.mark.parametrize("path", [*ROUTES, CHECKIN])
def test_limits_and_methods_answer_alike(pair: Pair, path: str) -> None:
    """Oversize bodies and headers (the edge, before either), and other methods."""
    for base in (pair.fast, pair.slow):
        with connect(base, timeout=5) as sock:
            sock.sendall(head("POST", path_of(base, path), f"Content-Length: {2 << 20}"))
            answer = read_answer(sock)
            assert answer is not None
            assert (answer.status, answer.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    big = {"x-pad": "a" * 20_000, "content-type": JSON}
    fast, slow = answers(pair, path, b'{"license_key": "KEY"}', big)
    assert fast == slow
    assert fast[0] == 431
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        fast_r, slow_r = (c.request(method, path) for c in pair.clients)
        assert (fast_r.status_code, fast_r.content) == (slow_r.status_code, slow_r.content)


@pytest.mark.parametrize("path", ROUTES)
def test_idempotency_key_is_ignored_on_both_paths(pair: Pair, path: str) -> None:
    """The public checks are not management POSTs: an `Idempotency-Key` (with an API key,
    as the SDK sends) changes nothing on either path (docs/events.md)."""
    headers = {
        "authorization": f"Bearer {pair.api_key}",
        "idempotency-key": f"same-{path}",
        "content-type": JSON,
    }
    for body in (b'{"license_key": "KEY"}', b'{"license_key": "nope"}'):
        fast, slow = answers(pair, path, body, headers)
        assert fast == slow, (path, body)
