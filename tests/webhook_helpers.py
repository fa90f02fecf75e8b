"""A real HTTP receiver for webhook deliveries, and the delivery worker run in the test
process (against the server's database) with the settings a test chooses.

Module fixtures (import them into the test module, listed in its `__all__`): `hooks`, a
`licensor serve` of the module's own that runs no worker (the test runs the worker's
passes) and may deliver to 127.0.0.1, with the module's `HOOKS_EXTRA_ENV` on top; and
`inbox`, one receiver for it (paths are per test)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from licensor.config import Settings
from licensor.delivery.worker import Worker
from licensor.kit.context import AppContext
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server

HOOKS_ENV = {
    **RAISED_LIMITS,
    "LICENSOR_MAIL_WORKER": "false",  # the tests run the worker's passes themselves
    "LICENSOR_WEBHOOKS_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int
    got: list[Received] = field(default_factory=list)
    # path -> statuses to answer in turn (the last one repeats); 200 when not listed
    answers: dict[str, list[int]] = field(default_factory=dict)
    delay: float = 0.0  # seconds before each answer (after the request is recorded)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.got if r.path == path]

    def answer(self, path: str) -> int:
        with self.lock:
            queue = self.answers.get(path)
            if not queue:
                return 200
            return queue.pop(0) if len(queue) > 1 else queue[0]


@contextmanager
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(size).decode()
            rec = box[0]
            with rec.lock:
                rec.got.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status = rec.answer(self.path)
            time.sleep(rec.delay)
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(httpd.server_address[1]))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


def worker_settings(server: Server, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": server.settings.data_dir,
        "database_url": server.settings.resolved_database_url,
        "webhooks_allow_private": True,
        "webhooks_retry_base_seconds": 0.01,
        "webhooks_retry_max_seconds": 0.05,
        **overrides,
    }
    return Settings(**values)


def drain(
    server: Server, until: Callable[[], bool] | None = None, what: str = "", **overrides: Any
) -> int:
    """Run the delivery worker's passes (webhooks only) on the server's database until
    `until()` holds (retries fall due after a few ms), or just one pass without `until`."""
    settings = worker_settings(server, **overrides)

    async def run() -> int:
        ctx = AppContext.from_settings(settings)
        worker = Worker(ctx, mail=False)
        deadline = time.monotonic() + 20
        done = 0
        try:
            while True:
                done += await worker.run_once()
                if until is None or until():
                    return done
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what}")
                await asyncio.sleep(0.05)
        finally:
            await worker.close()
            await ctx.close()

    return asyncio.run(run())


def run_worker(server: Server, **overrides: Any) -> int:
    """One pass of the delivery worker (webhooks only)."""
    return drain(server, None, **overrides)


@pytest.fixture(scope="module")
def hooks(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_checked: bool,
) -> Iterator[Server]:
    env = {**HOOKS_ENV, **getattr(request.module, "HOOKS_EXTRA_ENV", {})}
    data_dir = tmp_path_factory.mktemp(f"hooks-{backend}")
    with own_server(backend, data_dir, _postgres_checked, env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def inbox(hooks: Server) -> Iterator[Receiver]:
    """One receiver per server (paths are per test): what it got is that server's."""
    with receiver() as rec:
        yield rec


def endpoint(tenant: Tenant, url: str, **fields: Any) -> tuple[str, str]:
    """Create an endpoint over the API: (id, secret)."""
    with tenant.http() as http:
        made = http.post("/webhooks", json={"url": url, **fields})
        assert made.status_code == 200, made.text
        webhook_id = made.json()["id"]
        secret = http.get(f"/webhooks/{webhook_id}/secret").json()["secret"]
    return webhook_id, secret


def new_key(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    product_id = make_product(tenant)
    customer_id = make_customer(tenant)
    return make_key(tenant, customer_id, product_id, unique(), **fields)


def types_at(inbox: Receiver, path: str) -> list[str]:
    return [r.json()["type"] for r in inbox.at(path)]
