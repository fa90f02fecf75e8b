"""The audit sealer: a change's transaction writes its event unsealed; the sealer chains
it after (the worker's loop, or a reader on demand). The triggers let through only the
seal itself, once. Both backends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import sealer
from licensor.audit import service as audit_service
from licensor.kit.context import AppContext
from tests import net
from tests.cli_helpers import cli
from tests.helpers import activate, in_db, setup_key
from tests.servers import RAISED_LIMITS, Server, Tenant, own_server

QUIET_ENV = {**RAISED_LIMITS, "LICENSOR_MAIL_WORKER": "false"}  # no worker: no sealer loop


@pytest.fixture(scope="module")
def quiet(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp(f"quiet-{backend}")
    with own_server(backend, data_dir, _postgres_checked, env=QUIET_ENV) as srv:
        yield srv


def report(server: Server, business_id: str, *flags: str) -> dict[str, Any]:
    done = cli(server, "audit", "verify", "--business-id", business_id, *flags)
    assert done.returncode == 0, done.stderr
    (one,) = json.loads(done.stdout)
    assert isinstance(one, dict)
    return one


def changes(tenant: Tenant, count: int = 3) -> None:
    """A key (created), `count` updates, an activation on the hot path."""
    _, _, key = setup_key(tenant)
    with tenant.http() as http:
        for limit in range(5, 5 + count):
            resp = http.patch(f"/license_keys/{key['id']}", json={"activations_limit": limit})
            assert resp.status_code == 200, resp.text
    assert activate(tenant.base_url, key["key"]).status_code == 201


def counted(server: Server, business_id: str) -> int:
    async def work(ctx: AppContext, session: AsyncSession) -> int:
        found = await session.scalar(
            text("SELECT count(*) FROM audit_events WHERE business_id = :b AND mode = 'test'"),
            {"b": business_id},
        )
        return int(found or 0)

    return in_db(server, work)


def test_changes_are_written_unsealed_and_verify_seals_them(quiet: Server) -> None:
    tenant = quiet.tenant()
    changes(tenant)
    total = counted(quiet, tenant.business_id)
    assert total >= 6  # product, customer, key, 3 updates, the activation
    before = report(quiet, tenant.business_id, "--no-seal")
    assert before["unsealed"] == total
    assert before["events"] == before["head_seq"] == 0
    sealed = report(quiet, tenant.business_id)
    assert sealed["ok"] is True
    assert sealed["unsealed"] == 0
    assert sealed["events"] == sealed["head_seq"] == total
    after = report(quiet, tenant.business_id, "--no-seal")
    assert after == sealed


def test_the_list_seals_before_it_reads(quiet: Server) -> None:
    tenant = quiet.tenant()
    changes(tenant, count=1)
    resp = net.get(
        tenant.base_url + "/audit_events",
        params={"page_size": 100},
        headers={"Authorization": f"Bearer {tenant.api_key}"},
    )
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert [e["seq"] for e in items] == list(range(len(items), 0, -1))
    assert all(e["hash"] for e in items)
    assert report(quiet, tenant.business_id, "--no-seal")["unsealed"] == 0


def test_the_worker_seals_within_seconds(server: Server) -> None:
    tenant = server.tenant()
    changes(tenant)
    total = counted(server, tenant.business_id)
    deadline = time.monotonic() + 15
    got = report(server, tenant.business_id, "--no-seal")
    while got["unsealed"] and time.monotonic() < deadline:
        time.sleep(0.3)
        got = report(server, tenant.business_id, "--no-seal")
    assert got["ok"] is True
    assert got["unsealed"] == 0
    assert got["events"] == total


def test_two_sealers_at_once_neither_double_seal_nor_fork(quiet: Server) -> None:
    tenant = quiet.tenant()
    changes(tenant, count=8)
    total = counted(quiet, tenant.business_id)

    async def one(ctx: AppContext) -> int:
        async with ctx.db.write_sessions() as session, session.begin():
            return await sealer.seal_chain(session, tenant.business_id, "test")

    async def both() -> list[int]:
        first = AppContext.from_settings(quiet.settings)
        second = AppContext.from_settings(quiet.settings)
        try:
            return list(await asyncio.gather(one(first), one(second), one(first)))
        finally:
            await first.close()
            await second.close()

    sealed = asyncio.run(both())
    assert sum(sealed) == total  # each event sealed by exactly one of them
    got = report(quiet, tenant.business_id, "--no-seal")
    assert got["ok"] is True, got
    assert got["events"] == got["head_seq"] == total
    assert got["unsealed"] == 0


def test_verify_without_sealing_reads_one_state_of_a_chain_being_sealed(quiet: Server) -> None:
    """`audit verify --no-seal` while a sealer's transaction is in flight: the head, the
    walk and the count of unsealed events see one state of the chain, the one before the
    seal, and the report neither waits for the sealer nor holds it up (a read-only
    transaction: one snapshot, no lock). Once each statement read what was committed at
    its own start: a commit between the walk and the count reported the new seals as
    neither sealed nor unsealed (events 0, unsealed 0, once in a full run). Then the head
    was read `FOR SHARE`, and on PostgreSQL the report waited for the sealer's commit."""
    tenant = quiet.tenant()
    changes(tenant)
    report(quiet, tenant.business_id)  # sealed once: the chain has a head
    changes(tenant)
    total = counted(quiet, tenant.business_id)

    async def run() -> tuple[int, bool, Any]:
        sealing = AppContext.from_settings(quiet.settings)
        reading = AppContext.from_settings(quiet.settings)

        async def verify() -> Any:  # as the command does it (cli/common.py `read_only`)
            async with reading.db.read_sessions() as session, session.begin():
                return await audit_service.verify(session, tenant.business_id, "test", seal=False)

        try:
            async with sealing.db.write_sessions() as session:
                await session.begin()
                sealed = await sealer.seal_chain(session, tenant.business_id, "test")
                report_task = asyncio.create_task(verify())
                await asyncio.sleep(0.5)
                waited = not report_task.done()
                await session.commit()
            return sealed, waited, await report_task
        finally:
            await sealing.close()
            await reading.close()

    sealed, waited, got = asyncio.run(run())
    assert 0 < sealed < total
    assert got.fault is None
    assert not waited  # done while the sealer's transaction was still open
    assert (got.events, got.unsealed) == (total - sealed, sealed)  # the state before it


EVENT_COLUMNS = (
    "id, business_id, mode, seq, created_at, actor, action, target_type, target_id, "
    "changes, note, request_id, client_address, prev_hash, hash"
)


def test_the_triggers_allow_the_seal_once_and_nothing_else(quiet: Server) -> None:
    """An unsealed row of our own, in a transaction of our own (no sealer sees it): every
    UPDATE but the seal is refused, the seal goes through once, DELETE never."""
    tenant = quiet.tenant()

    async def refused(session: AsyncSession, statement: str) -> None:
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text(statement), {"id": "aud_trigger_test"})

    async def work(ctx: AppContext, session: AsyncSession) -> None:
        await session.execute(
            text(
                f"INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES (:id, :b, 'test', NULL, "
                "CURRENT_TIMESTAMP, 'test', 'x.y', 'x', 'x_1', '{}', NULL, NULL, NULL, "
                "NULL, NULL)"
            ),
            {"id": "aud_trigger_test", "b": tenant.business_id},
        )
        where = "WHERE id = :id"
        for statement in (
            f"UPDATE audit_events SET actor = 'someone else' {where}",
            f"UPDATE audit_events SET seq = 1 {where}",  # part of the seal only
            f"UPDATE audit_events SET seq = 1, prev_hash = 'p', hash = 'h', note = 'n' {where}",
            f"UPDATE audit_events SET seq = 1, prev_hash = 'p', hash = 'h', "
            f"changes = '{{\"a\": 1}}' {where}",
            f"DELETE FROM audit_events {where}",
        ):
            await refused(session, statement)
        await session.execute(
            text(f"UPDATE audit_events SET seq = 1, prev_hash = 'p', hash = 'h' {where}"),
            {"id": "aud_trigger_test"},
        )
        for statement in (
            f"UPDATE audit_events SET seq = 2, prev_hash = 'q', hash = 'i' {where}",
            f"UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL {where}",
            f"UPDATE audit_events SET note = 'n' {where}",
            f"DELETE FROM audit_events {where}",
        ):
            await refused(session, statement)
        rows = (
            await session.execute(
                text(f"SELECT seq, prev_hash, hash, note FROM audit_events {where}"),
                {"id": "aud_trigger_test"},
            )
        ).all()
        raise Undone([tuple(r) for r in rows])  # leave the tenant's chain as it was

    with pytest.raises(Undone) as undone:
        in_db(quiet, work)
    assert undone.value.args[0] == [(1, "p", "h", None)]


class Undone(Exception):
    """Rolls `in_db`'s transaction back, carrying what the test read."""


def test_a_deleted_chain_head_stops_sealing_and_verify_says_so(quiet: Server) -> None:
    tenant = quiet.tenant()
    changes(tenant, count=1)
    assert report(quiet, tenant.business_id)["ok"] is True  # sealed

    async def drop_head(ctx: AppContext, session: AsyncSession) -> None:
        await session.execute(
            text("DELETE FROM audit_chain_heads WHERE business_id = :b AND mode = 'test'"),
            {"b": tenant.business_id},
        )

    in_db(quiet, drop_head)
    changes(tenant, count=1)  # more events, unsealed
    done = cli(quiet, "audit", "verify", "--business-id", tenant.business_id)
    assert done.returncode == 1
    assert "AUDIT_CHAIN_BROKEN" in done.stderr
    assert "the chain head row is missing" in done.stderr
    (got,) = json.loads(done.stdout)
    assert got["fault"]["kind"] == "head_missing"
    assert got["unsealed"] > 0  # not chained onto a new, empty head
