"""One hot-path connection layer per process (`kit/hotstore.py`): the license routes and
the instance check-in share its connections, opened by the app's lifespan. Counted from
outside, in /proc: the process's open SQLite database files, or its TCP connections to
PostgreSQL."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from tests import net
from tests.edge_helpers import serve_with
from tests.instance_keys.helpers import make_plan, now, subscribe
from tests.instance_keys.test_checkin import VALIDATE, Instance
from tests.servers import Server


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def database_connections(server: Server) -> int:
    """How many connections to its database the (single) server process holds."""
    pid = server.processes[0].pid
    if server.backend == "sqlite":
        db = str(Path(server.settings.resolved_database_url.split(":///", 1)[1]).resolve())
        links = []
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                links.append(os.readlink(fd))
            except OSError:
                continue
        return sum(1 for link in links if link == db)
    port = f"{5432:04X}"
    inodes = _socket_inodes(pid)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].rsplit(":", 1)[1] == port and fields[9] in inodes:
                count += 1
    return count


def test_checkins_run_on_the_license_routes_connections(server: Server) -> None:
    tenant = server.tenant()
    instance = Instance(server, tenant)
    plan = make_plan(server, tenant, "pro", ["sso"])
    subscribe(server, tenant, instance.org_id, plan, starts_at=now() - timedelta(days=1))
    assert instance.check_in().status_code == 200  # its signing key now exists
    suffix = tenant.base_url.removeprefix(server.base_url)
    # No in-process worker: its loops (mail, webhooks, sweeps, the audit sealer) take ORM
    # connections now and then, which would move the count between the two readings.
    quiet = {"LICENSOR_DB_POOL_SIZE": "1", "LICENSOR_MAIL_WORKER": "false"}
    with serve_with(server, quiet) as one:
        base = one.base_url + suffix
        validate = net.post(base + "/licenses/validate", json={"license_key": "k"})
        assert validate.json() == {"valid": False}
        before = database_connections(one)
        assert before >= 1

        def check_in(_: int) -> int:
            r = net.post(
                base + VALIDATE,
                json={"version": "1"},
                headers={"authorization": f"Bearer {instance.key}"},
            )
            return r.status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(check_in, range(40))) == {200}
        assert net.post(base + "/licenses/validate", json={"license_key": "k"}).status_code == 200
        assert database_connections(one) == before
