"""Files to import, the import command, and what the database holds afterwards."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.context import AppContext
from licensor.models import Customer, ImportRun, LicenseKey
from tests import cli_helpers
from tests.servers import Server, Tenant


def new_key(n: int) -> str:
    return f"IMP-{uuid.uuid4().hex[:12].upper()}-{n:07d}"


def write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        out.writerows(rows)
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def jsonl(row: dict[str, Any]) -> str:
    return json.dumps(row)


def run_import(server: Server, tenant: Tenant, path: Path, *args: str) -> cli_helpers.Done:
    return cli_helpers.cli(
        server,
        "license-keys",
        "import",
        str(path),
        "--business-id",
        tenant.business_id,
        "--no-progress",
        *args,
    )


def imported(server: Server, tenant: Tenant, path: Path, *args: str) -> dict[str, Any]:
    """The summary of an import that must succeed."""
    done = run_import(server, tenant, path, *args)
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def report_of(path: Path) -> list[dict[str, Any]]:
    text_ = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text_.splitlines()]


def in_db(server: Server, work: Any) -> Any:
    async def go(ctx: AppContext) -> Any:
        async with ctx.db.read_sessions() as session:
            return await work(session)

    return server.run(go)


def key_count(server: Server, business_id: str) -> int:
    async def count(session: AsyncSession) -> int:
        stmt = select(func.count()).where(LicenseKey.business_id == business_id)
        return int(await session.scalar(stmt) or 0)

    return int(in_db(server, count))


def distinct_hashes(server: Server, business_id: str) -> int:
    async def count(session: AsyncSession) -> int:
        stmt = select(func.count(func.distinct(LicenseKey.key_hash))).where(
            LicenseKey.business_id == business_id
        )
        return int(await session.scalar(stmt) or 0)

    return int(in_db(server, count))


def customer_emails(server: Server, business_id: str) -> list[str]:
    async def emails(session: AsyncSession) -> list[str]:
        stmt = select(Customer.email_lc).where(Customer.business_id == business_id)
        return sorted((await session.scalars(stmt)).all())

    return list(in_db(server, emails))


def run_row(server: Server, business_id: str) -> dict[str, Any] | None:
    async def row(session: AsyncSession) -> dict[str, Any] | None:
        stmt = select(ImportRun).where(ImportRun.business_id == business_id)
        found = (await session.scalars(stmt)).one_or_none()
        if found is None:
            return None
        return {
            "id": found.id,
            "status": found.status,
            "last_line": found.last_line,
            "imported": found.imported,
            "rejected": found.rejected,
            "batches": found.batches,
        }

    result: dict[str, Any] | None = in_db(server, row)
    return result


def execute(server: Server, *statements: str) -> None:
    """Statements run on the server's database as they are (a test's own trigger)."""

    async def go(ctx: AppContext) -> None:
        async with ctx.db.write_sessions() as session, session.begin():
            for statement in statements:
                await session.execute(text(statement))

    server.run(go)


def all_keys(tenant: Tenant, **params: str) -> list[dict[str, Any]]:
    """Every key of the list, page by page (100 a page), as the SDK pages."""
    out: list[dict[str, Any]] = []
    with tenant.http() as http:
        page = 0
        while True:
            got = http.get(
                "/license_keys", params={**params, "page_size": 100, "page_number": page}
            )
            assert got.status_code == 200, got.text
            items = got.json()["items"]
            out += items
            if len(items) < 100:
                return out
            page += 1
