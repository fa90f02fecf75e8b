"""A dump of the database holds no instance key, member token or password in clear."""

from __future__ import annotations

import sqlite3
import subprocess

from licensor.kit.db import sqlite_path
from tests import net
from tests.instance_keys.helpers import PASSWORD, bearer, org_with_people, personal_token
from tests.servers import Server


def dump(server: Server) -> str:
    url = server.settings.resolved_database_url
    if server.backend == "sqlite":
        conn = sqlite3.connect(sqlite_path(url))
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    done = subprocess.run(
        ["pg_dump", "--data-only", "--inserts", dsn], capture_output=True, check=True, text=True
    )
    return done.stdout


def test_dump_has_no_secrets(server: Server) -> None:
    tenant = server.tenant()
    org = org_with_people(tenant)
    secrets = [PASSWORD, *org.tokens.values()]
    secrets.append(personal_token(tenant.base_url, org.tokens["admin"])["token"])
    with tenant.http() as http:
        invited = http.post(
            "/api/v1/organization/members",
            json={"email": "later@example.test"},
            headers=bearer(org.tokens["owner"]),
        )
    assert invited.status_code == 201
    secrets.append(invited.json()["inviteToken"])
    for name in ("Production", "Staging"):
        r = net.post(
            tenant.base_url + "/api/v1/licensing/keys",
            json={"instanceName": name},
            headers=bearer(org.tokens["owner"]),
        )
        assert r.status_code == 201
        key = r.json()["licenseKey"]
        secrets.append(key)
        checked = net.post(tenant.base_url + "/api/v1/licensing/validate", headers=bearer(key))
        assert checked.status_code == 200
    text = dump(server)
    assert "instance_keys" in text
    assert org.id in text  # the dump is real and holds these rows
    for secret in secrets:
        assert secret not in text
        assert secret.upper() not in text
    for key in secrets[-2:]:
        assert key[4:-4] not in text  # only the four characters at each end are kept
