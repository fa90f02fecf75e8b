"""No license key and no API key secret is ever stored in clear; the server secret is 0600."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from licensor.config import SECRET_FILE
from licensor.kit.db import sqlite_path
from tests import net
from tests.helpers import (
    issue_api_key,
    make_customer,
    make_key,
    make_product,
    setup_key,
    unique,
)
from tests.servers import PG_ADMIN_URL, Server, start_server


def database_dump(server: Server) -> str:
    url = server.settings.resolved_database_url
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if shutil.which("sqlite3"):
            done = subprocess.run(
                ["sqlite3", path, ".dump"], capture_output=True, text=True, check=True
            )
            return done.stdout
        conn = sqlite3.connect(path)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is not installed")
    host_part = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_part.partition(":")
    user = PG_ADMIN_URL.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
    dbname = url.rsplit("/", 1)[1]
    done = subprocess.run(
        [pg_dump, "-h", host, "-p", port or "5432", "-U", user, "--no-owner", dbname],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def raw_sqlite_bytes(server: Server) -> bytes:
    """The database files themselves (main file, WAL), in case the dump hides something."""
    url = server.settings.resolved_database_url
    if not url.startswith("sqlite"):
        return b""
    path = Path(sqlite_path(url))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_no_secret_in_clear_in_the_database(server: Server) -> None:
    tenant = server.tenant()
    live_secret = issue_api_key(server, tenant.business_id, "live")
    marker_email = f"{unique('mail').lower()}@example.test"
    customer_id = make_customer(tenant, marker_email, "Secretive")
    imported = [unique("IMPORTED"), "legacy-key-" + unique()]
    generated = []
    for fmt in ("base32", "uuid", "hex64"):
        product_id = make_product(
            tenant, key_format=fmt, key_prefix="SEC" if fmt == "base32" else None
        )
        generated.append(make_key(tenant, customer_id, product_id)["key"])
    product_id = make_product(tenant)
    for text in imported:
        assert make_key(tenant, customer_id, product_id, text)["key"] == text
    with tenant.http() as http:  # the keys work, so they are in the database somehow
        for text in imported + generated:
            resp = http.post("/licenses/validate", json={"license_key": text})
            assert resp.json() == {"valid": True, "state": "valid"}

    dump = database_dump(server)
    raw = raw_sqlite_bytes(server)
    assert marker_email in dump  # the dump is real and holds this test's rows
    assert customer_id in dump
    for secret in [tenant.api_key, live_secret, *imported, *generated]:
        assert secret not in dump, secret
        assert secret.encode() not in raw, secret
    # not even the random part of an API key (its shown prefix is stored on purpose)
    for secret in (tenant.api_key, live_secret):
        assert secret[12:] not in dump
    server_secret = (server.settings.data_dir / SECRET_FILE).read_text().strip()
    assert server_secret not in dump
    assert server_secret.encode() not in raw


def test_server_secret_file_is_private(server: Server) -> None:
    path = server.settings.data_dir / SECRET_FILE
    assert path.is_file()
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)
    assert len(path.read_text().strip()) >= 43  # 32 bytes, base64
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(f".{SECRET_FILE}")]
    assert leftovers == []


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    """Three processes on a fresh data dir race to create the secret: exactly one file wins
    and every process uses it (else keys made through one would not be found by another)."""
    srv = start_server("sqlite", tmp_path / "fresh", None, count=3)
    try:
        path = srv.settings.data_dir / SECRET_FILE
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        tenant = srv.tenant()  # this test process reads the same file
        for url in srv.faces("test"):
            resp = net.get(
                url + "/customers", headers={"Authorization": f"Bearer {tenant.api_key}"}
            )
            assert resp.status_code == 200, resp.text
        _, _, lk = setup_key(tenant)
        for url in srv.faces("test"):
            check = net.post(url + "/licenses/validate", json={"license_key": lk["key"]})
            assert check.json() == {"valid": True, "state": "valid"}
    finally:
        srv.stop()
