"""Real servers for the tests: `licensor serve` processes on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from licensor.business import service as business_service
from licensor.config import Settings
from licensor.kit.context import AppContext
from tests import net
from tests.zygote import Process, licensor_process

if TYPE_CHECKING:
    from dodopayments import DodoPayments

PG_ADMIN_URL = os.environ.get(
    "LICENSOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


# For servers whose tests send far more from one loopback address, or to one key, than a
# real client does (the shared suite server, the race tests): limits raised, not off, so
# every request still goes through the limiter. tests/test_rate_limits.py tests the limits.
RAISED_LIMITS = {
    f"LICENSOR_RATE_LIMIT_{name}": "1000000/minute"
    for name in (
        "LICENSE_ADDRESS",
        "LICENSE_KEY",
        "CHECKIN_ADDRESS",
        "CHECKIN_KEY",
        "CLOUD_ADDRESS",
        "CLOUD_CODE",
        "LOGIN_ADDRESS",
        "LOGIN_ACCOUNT",
        "JWKS_ADDRESS",
        "JWKS_BUSINESS",
    )
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def postgres_available() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(_pg_dsn(PG_ADMIN_URL), timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_pg_dsn(PG_ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# Migrating costs seconds of CPU per database; a suite starts dozens of servers. So each
# test process migrates one template per backend, once, and every database a test asks for
# "at head" is a copy of it: CREATE DATABASE ... TEMPLATE on PostgreSQL, SQLite's backup
# API into a new file. tests/test_migrations.py still migrates empty databases itself.
_TEMPLATES: dict[str, str] = {}
_AT_HEAD: set[str] = set()  # PostgreSQL URLs made from the template


def _drop_templates() -> None:
    name = _TEMPLATES.pop("postgres", None)
    if name is not None:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    folder = _TEMPLATES.pop("sqlite", None)
    if folder is not None:
        shutil.rmtree(Path(folder).parent, ignore_errors=True)


def _template(backend: str) -> str:
    """The process's migrated template: a database name, or a SQLite file's path."""
    from licensor.kit import migrate

    found = _TEMPLATES.get(backend)
    if found is not None:
        return found
    if not _TEMPLATES:
        atexit.register(_drop_templates)
    if backend == "postgres":
        name = f"licensor_template_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        migrate.upgrade(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        found = name
    else:
        folder = Path(tempfile.mkdtemp(prefix="licensor-template-"))
        settings = Settings(data_dir=folder)
        migrate.upgrade(settings.resolved_database_url)
        found = str(folder / "licensor.db")
    _TEMPLATES[backend] = found
    return found


def migrated(settings: Settings) -> None:
    """Bring the settings' database to the head: a copy of the template for a new SQLite
    file or a database from `fresh_postgres_database()`, else a real `upgrade`."""
    from licensor.kit import migrate

    url = settings.resolved_database_url
    if url in _AT_HEAD:
        return
    if settings.is_sqlite:
        target = Path(url.split("///", 1)[1])
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(_template("sqlite")) as src, sqlite3.connect(target) as dst:
                src.backup(dst)
            os.chmod(target, 0o600)
            return
    migrate.upgrade(url)


@contextmanager
def fresh_postgres_database(at_head: bool = True) -> Iterator[str]:
    """A new database for one test session (a copy of the migrated template, or with
    `at_head=False` empty); dropped afterwards."""
    name = f"licensor_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_template("postgres")}"' if at_head else ""
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"{template}'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    if at_head:
        _AT_HEAD.add(url)
    try:
        yield url
    finally:
        _AT_HEAD.discard(url)
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Tenant:
    business_id: str
    api_key: str
    base_url: str

    def http(self) -> httpx.Client:
        return net.client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30
        )

    def sdk(self) -> DodoPayments:
        from dodopayments import DefaultHttpxClient, DodoPayments

        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return DodoPayments(
            bearer_token=self.api_key,
            base_url=self.base_url,
            max_retries=0,
            _strict_response_validation=True,
            http_client=DefaultHttpxClient(verify=net.TLS, trust_env=False),  # tests/net.py
        )


async def _open(settings: Settings) -> AppContext:
    return AppContext.from_settings(settings)


T = TypeVar("T")


@dataclass
class Server:
    backend: str
    settings: Settings
    base_url: str
    urls: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _ctx: AppContext | None = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LICENSOR_DATA_DIR"] = str(self.settings.data_dir)
        env["LICENSOR_DATABASE_URL"] = self.settings.resolved_database_url
        env.update(self.extra_env)
        return env

    def face(self, mode: str) -> str:
        """The base URL of a mode: the root serves live mode, `/test` test mode."""
        return self.base_url + ("/test" if mode == "test" else "")

    def faces(self, mode: str) -> list[str]:
        """Every process's base URL of a mode."""
        return [url + ("/test" if mode == "test" else "") for url in self.urls]

    def run(self, coroutine_of: Callable[[AppContext], Coroutine[Any, Any, T]]) -> T:
        """Run `coroutine_of(ctx)` in this test process with a context on the server's
        database, opened once per server (on a loop thread of its own) rather than per
        call: opening one costs tens of milliseconds of CPU, and a suite makes a tenant
        for almost every test."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            self._loop = loop
            self._ctx = asyncio.run_coroutine_threadsafe(_open(self.settings), loop).result()
        assert self._ctx is not None
        return asyncio.run_coroutine_threadsafe(coroutine_of(self._ctx), self._loop).result()

    def tenant(self, mode: str = "test", name: str | None = None) -> Tenant:
        async def make(ctx: AppContext) -> Tenant:
            async with ctx.db.write_sessions() as session, session.begin():
                done = await business_service.bootstrap(
                    session,
                    ctx.vault,
                    business_name=name or f"Biz {uuid.uuid4().hex[:8]}",
                    owner_email=f"owner-{uuid.uuid4().hex[:8]}@example.test",
                    mode=mode,
                )
                return Tenant(done.business.id, done.api_key.secret, self.face(mode))

        return self.run(make)

    def stop(self) -> None:
        if self._loop is not None:
            if self._ctx is not None:
                asyncio.run_coroutine_threadsafe(self._ctx.close(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop, self._ctx = None, None
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def own_server(
    backend: str, data_dir: Path, postgres_ok: bool = True, **start: Any
) -> Iterator[Server]:
    """A server of the caller's own (`start_server`'s keywords): on SQLite in `data_dir`, or
    on a fresh PostgreSQL database (skipped when PostgreSQL is not reachable); stopped, and
    its database dropped, afterwards."""
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not postgres_ok:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        srv = start_server(backend, data_dir, url, **start)
        stack.callback(srv.stop)
        yield srv


def start_server(
    backend: str,
    data_dir: Path,
    database_url: str | None,
    *,
    workers: int = 1,
    count: int = 1,
    env: dict[str, str] | None = None,
) -> Server:
    """Migrate once, then start `count` independent server processes, each on its own port
    (`urls`), all on the one database; `base_url` is the first. `env`: extra variables for
    the server processes (e.g. LICENSOR_RATE_LIMIT_* for a test's own limits)."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    migrated(settings)
    server = Server(backend, settings, "", extra_env=dict(env or {}))
    try:
        server.urls = _start_processes(server, count, workers)
    except BaseException:
        server.stop()
        raise
    server.base_url = server.urls[0]
    return server


def _start_processes(server: Server, count: int, workers: int, attempts: int = 3) -> list[str]:
    """`count` `licensor serve` processes, started together, each on a free port. Another
    process (an xdist worker, a parallel run) may take a port between free_port() and the
    server's bind: that process exits during start-up and is started again on another port."""
    urls: list[str] = [""] * count
    pending = list(range(count))
    for attempt in range(attempts):
        started: list[tuple[int, str, Process]] = []
        for slot in pending:
            port = free_port()
            args = ["serve", "--no-migrate", "--port", str(port), "--workers", str(workers)]
            proc = licensor_process(args, env=server.env())  # tests/zygote.py
            server.processes.append(proc)
            started.append((slot, f"http://127.0.0.1:{port}", proc))
        pending = []
        for slot, url, proc in started:
            try:
                wait_ready(url, [proc])
            except ServerExited:
                if attempt == attempts - 1:
                    raise
                server.processes.remove(proc)
                pending.append(slot)
            else:
                urls[slot] = url
        if not pending:
            break
    return urls


REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def redis_available() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class ServerExited(RuntimeError):
    """A server process ended before it answered /health."""


def wait_ready(url: str, processes: Sequence[Process], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    # one client for the whole wait: a new one per poll builds an SSL context each time
    # (milliseconds of CPU, hundreds of times while a loaded machine starts a server)
    with net.client(timeout=1) as client:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                raise ServerExited("a server process exited during start-up")
            try:
                if client.get(url + "/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become ready")
