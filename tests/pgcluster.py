"""Throwaway PostgreSQL clusters from the machine's own binaries: a primary that allows
streaming replication, and a hot-standby replica made from it with `pg_basebackup`.

The machine's PostgreSQL (127.0.0.1:5432) does not allow replication connections, so the
replica test makes a primary of its own. initdb refuses to run as root: when the tests run
as root, the cluster commands run as the `postgres` user (`runuser`)."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.servers import free_port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
    return Path(found[-1]).parent if found else None


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> None:
    done = subprocess.run(_as_owner(cmd), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{cmd[0]}: {done.stdout}{done.stderr}"


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = self.data.parent / f"{self.data.name}.log"
        _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "start"])

    def stop(self) -> None:
        subprocess.run(
            _as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )

    def sql(self, statement: str, database: str = "postgres") -> object:
        async def go() -> object:
            conn = await asyncpg.connect(self.dsn(database))
            try:
                return await conn.fetchval(statement)
            finally:
                await conn.close()

        return asyncio.run(go())


def _settings(data: Path, port: int) -> str:
    return "\n".join(
        [
            f"port = {port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{data.parent}'",
            "wal_level = replica",
            "max_wal_senders = 4",
            "hot_standby = on",
            "max_connections = 60",
            "shared_buffers = 32MB",
            "fsync = off",
            "",
        ]
    )


@contextmanager
def primary_and_replica() -> Iterator[tuple[Cluster, Cluster]]:
    """A running primary and its streaming replica (both trust auth on 127.0.0.1), in a
    folder of /tmp of their own (pytest's are private to root), removed afterwards."""
    bin_dir = binaries()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if os.environ.get("CI") == "true":
            pytest.fail("the replica test needs PostgreSQL's server binaries", pytrace=False)
        pytest.skip("PostgreSQL's server binaries are not installed")
    root = Path(tempfile.mkdtemp(prefix="licensor-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = Cluster(bin_dir, root / "primary", free_port())
    replica = Cluster(bin_dir, root / "replica", free_port())
    _run([str(bin_dir / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust"])
    with open(primary.data / "postgresql.conf", "a") as conf:
        conf.write(_settings(primary.data, primary.port))
    with open(primary.data / "pg_hba.conf", "a") as hba:
        hba.write("host replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\n")
    primary.start()
    try:
        _run(
            [
                str(bin_dir / "pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
                *("-D", str(replica.data), "-R", "-X", "stream"),
            ]
        )
        with open(replica.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {replica.port}\n")
        replica.start()
        try:
            yield primary, replica
        finally:
            replica.stop()
    finally:
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)
