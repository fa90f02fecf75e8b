"""The data folder (secret key, SQLite database and its WAL) is readable by its owner only:
folder 0700, files 0600, also when an older install left them world-readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.servers import Server, own_server

SQLITE_FILES = ("licensor.db", "licensor.db-wal", "licensor.db-shm")


@pytest.fixture
def postgres_ok(_postgres_checked: bool) -> bool:
    return _postgres_checked


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
        with own_server(backend, data_dir, postgres_ok) as server:
            write_something(server)
            check_private(backend, data_dir)
    finally:
        os.umask(old)


def test_an_older_world_readable_install_is_tightened(
    backend: str, tmp_path: Path, postgres_ok: bool
) -> None:
    data_dir = tmp_path / "old"
    with own_server(backend, data_dir, postgres_ok) as server:
        write_something(server)
    os.chmod(data_dir, 0o755)
    for path in data_dir.iterdir():
        os.chmod(path, 0o644)
    with own_server(backend, data_dir, postgres_ok) as server:
        write_something(server)
        check_private(backend, data_dir)
