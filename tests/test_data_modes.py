"""The data folder (secret key, SQLite database and its WAL) is readable by its owner only:
folder 0700, files 0600, also when an older install left them world-readable."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.servers import Server, fresh_postgres_database, start_server

SQLITE_FILES = ("licensor.db", "licensor.db-wal", "licensor.db-shm")


@pytest.fixture
def postgres_ok(_postgres_checked: bool) -> bool:
    return _postgres_checked


@contextmanager
def running(backend: str, data_dir: Path, postgres_ok: bool) -> Iterator[Server]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not postgres_ok:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        server = start_server(backend, data_dir, url)
        stack.callback(server.stop)
        yield server


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(server: Server) -> None:
    tenant = server.tenant()
    with tenant.http() as client:
        made = client.post("/customers", json={"email": "a@buyer.test", "name": "A"})
        assert made.status_code == 200, made.text
        assert client.get("/customers").status_code == 200


def check_private(backend: str, data_dir: Path) -> None:
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "secret.key") == 0o600
    if backend == "sqlite":
        for name in SQLITE_FILES:
            assert (data_dir / name).exists(), name
            assert mode(data_dir / name) == 0o600, f"{name} is {oct(mode(data_dir / name))}"


def test_a_new_data_folder_is_private(backend: str, tmp_path: Path, postgres_ok: bool) -> None:
    old = os.umask(0o022)  # the usual umask: what SQLite would otherwise create 0644 with
    try:
        data_dir = tmp_path / "fresh" / "data"
        with running(backend, data_dir, postgres_ok) as server:
            write_something(server)
            check_private(backend, data_dir)
    finally:
        os.umask(old)


def test_an_older_world_readable_install_is_tightened(
    backend: str, tmp_path: Path, postgres_ok: bool
) -> None:
    data_dir = tmp_path / "old"
    with running(backend, data_dir, postgres_ok) as server:
        write_something(server)
    os.chmod(data_dir, 0o755)
    for path in data_dir.iterdir():
        os.chmod(path, 0o644)
    with running(backend, data_dir, postgres_ok) as server:
        write_something(server)
        check_private(backend, data_dir)
