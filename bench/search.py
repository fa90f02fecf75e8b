"""The desk's search at scale: 100,000 licenses, p50/p95 per kind of query, over HTTP.

    .venv/bin/python bench/search.py --backend sqlite
    .venv/bin/python bench/search.py --backend postgres   # a fresh database, dropped after

It makes a live business (CLI `bootstrap`), a plan and 100 subscriptions through the
management API, then writes the licenses straight into the database in one transaction
(the columns `license_desk.service.insert` writes, folded copies included: keys are
HMAC-hashed and AES-GCM encrypted by the server's vault), starts `licensor serve` and
times `GET /licenses?…` (a page of 10, newest first, as the console asks) sequentially,
each kind of query `--rounds` times with varying terms after a warm-up.

Data: 100,000 licensees over 2,000 email domains (one big one with a tenth of all
licenses), 20,000 companies, one in ten a trial, one subscription per 1,000 licenses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from support import BIN, free_port, fresh_postgres_database, running

from licensor.cli.common import apply_overrides, in_transaction
from licensor.kit.context import AppContext
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams
from licensor.kit.search import email_domain, fold
from licensor.kit.tenancy import Principal
from licensor.license_desk import repository, search
from licensor.license_desk.repository import LicenseSearch
from licensor.license_desk.rules import KEY_PURPOSE
from licensor.license_key.keys import generate_key
from licensor.models import DeskLicense

EXE = BIN / "licensor"
START = datetime(2026, 1, 1, tzinfo=UTC)


@contextmanager
def database(backend: str, data_dir: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "LICENSOR_DATA_DIR": str(data_dir)}
    if backend == "sqlite":
        yield env
        return
    with fresh_postgres_database() as url:
        yield {**env, "LICENSOR_DATABASE_URL": url}


def cli(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run([str(EXE), *args], env=env, check=True, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


class Corpus:
    """What the licenses are made of, and the terms the queries pick from."""

    def __init__(self, count: int, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.domains = ["bigcorp.test"] + [f"d{i}.example.test" for i in range(1, 2000)]
        self.companies = [f"Company {i} Ltd" for i in range(20_000)]
        self.rows: list[dict[str, Any]] = []
        for i in range(count):
            domain = self.domains[0] if i % 10 == 0 else rnd.choice(self.domains[1:])
            name = f"Person {i} {rnd.choice(['Ash', 'Birch', 'Cedar', 'Elm', 'Oak'])}"
            self.rows.append(
                {
                    "name": name,
                    "email": f"user{i}@{domain}",
                    "company": rnd.choice(self.companies),
                    "trial": i % 10 == 3,
                }
            )


async def write_licenses(
    ctx: AppContext,
    session: AsyncSession,
    business_id: str,
    subs: list[dict[str, Any]],
    plan_code: str,
    corpus: Corpus,
) -> list[dict[str, str]]:
    """The licenses, in chunks; returns each one's id and key (for the key queries)."""
    made: list[dict[str, str]] = []
    chunk: list[dict[str, Any]] = []
    for i, row in enumerate(corpus.rows):
        sub = subs[i % len(subs)]
        row_id = new_id("dlc")
        key = generate_key("base32", None)
        created = START + timedelta(seconds=i * 30)
        chunk.append(
            {
                "id": row_id,
                "business_id": business_id,
                "mode": "live",
                "license_type": "legacy",
                "issued_by": "staff",
                "customer_id": sub["customer_id"],
                "subscription_id": sub["id"],
                "subscription_external_id": sub["external_id"],
                "subscription_name": sub["name"],
                "licensee_name": row["name"],
                "licensee_company": row["company"],
                "licensee_email": row["email"],
                "licensee_name_lc": fold(row["name"]),
                "licensee_company_lc": fold(row["company"]),
                "licensee_email_lc": fold(row["email"]),
                "licensee_email_domain": email_domain(row["email"]),
                "trial": row["trial"],
                "users_count": 10,
                "plan_code": plan_code,
                "plan_name": "Premium",
                "plan_features": ["sso"],
                "starts_at": created,
                "expires_at": created + timedelta(days=365),
                "key_hash": ctx.vault.lookup_hash(key, KEY_PURPOSE),
                "key_encrypted": ctx.vault.encrypt(key, row_id),
                "created_at": created,
            }
        )
        made.append({"id": row_id, "key": key})
        if len(chunk) == 5000:
            await session.execute(insert(DeskLicense), chunk)
            chunk = []
    if chunk:
        await session.execute(insert(DeskLicense), chunk)
    return made


async def analyze(ctx: AppContext, session: AsyncSession) -> None:
    """PostgreSQL's statistics after the bulk load (autovacuum would gather them soon
    after; without them the planner takes the table for empty). SQLite is left as a
    server runs it: no ANALYZE."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("ANALYZE desk_licenses"))


def seed(
    env: dict[str, str], base: str, count: int
) -> tuple[str, str, list[dict[str, Any]], Corpus, list[dict[str, str]]]:
    boot = cli(env, "bootstrap", "--business", "Bench", "--email", "b@bench.test", "--mode", "live")
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (
        running(serve, f"{url}/health", env=env),
        httpx.Client(base_url=url, headers=headers, timeout=30) as http,
    ):
        plan = http.post("/plans", json={"code": "premium", "name": "Premium"}).json()
        customer = http.post("/customers", json={"email": "c@bench.test", "name": "C"}).json()
        subs = []
        for i in range(max(1, count // 1000)):
            body = {
                "customer_id": customer["customer_id"],
                "plan_code": plan["code"],
                "users_count": 10,
                "starts_at": START.isoformat(),
                "expires_at": (START + timedelta(days=3650)).isoformat(),
                "external_id": f"A-S{i:08d}",
                "name": f"A-S{i:08d}",
            }
            sub = http.post("/subscriptions", json=body)
            sub.raise_for_status()
            subs.append(sub.json())
    corpus = Corpus(count)
    settings = apply_overrides(None, None)
    made = in_transaction(
        settings,
        lambda ctx, session: write_licenses(
            ctx, session, boot["business_id"], subs, plan["code"], corpus
        ),
    )
    in_transaction(settings, analyze)
    return boot["api_key"], boot["business_id"], subs, corpus, made


def kinds(
    rnd: random.Random, subs: list[dict[str, Any]], corpus: Corpus, made: list[dict[str, str]]
) -> dict[str, Callable[[], dict[str, str]]]:
    def row() -> dict[str, Any]:
        return corpus.rows[rnd.randrange(len(corpus.rows))]

    return {
        "list (no filter)": lambda: {},
        "email=whole address": lambda: {"email": row()["email"].upper()},
        "email=small domain": lambda: {"email": rnd.choice(corpus.domains[1:])},
        "email=big domain (10%)": lambda: {"email": corpus.domains[0]},
        "company=": lambda: {"company": rnd.choice(corpus.companies).lower()},
        "trial=true": lambda: {"trial": "true"},
        "q=address": lambda: {"q": row()["email"]},
        "q=domain": lambda: {"q": rnd.choice(corpus.domains[1:])},
        "q=big domain": lambda: {"q": corpus.domains[0]},
        "q=company": lambda: {"q": rnd.choice(corpus.companies)},
        "q=name": lambda: {"q": row()["name"]},
        "q=license key": lambda: {"q": rnd.choice(made)["key"]},
        "q=license id": lambda: {"q": rnd.choice(made)["id"]},
        "q=sub_ id": lambda: {"q": rnd.choice(subs)["id"]},
        "q=billing id": lambda: {"q": rnd.choice(subs)["external_id"]},
        "q=nothing matches": lambda: {"q": f"nobody{rnd.randrange(10**6)}@nowhere.test"},
    }


async def in_process(
    business_id: str, queries: dict[str, Callable[[], dict[str, str]]], rounds: int, explain: bool
) -> dict[str, list[float]]:
    """The same searches without HTTP: `search.list_page` in a read session (ms each)."""
    settings = apply_overrides(None, None)
    ctx = AppContext.from_settings(settings)
    who = Principal(business_id=business_id, mode="live", api_key_id="bench")
    page = PageParams(page_number=0, page_size=10)
    out: dict[str, list[float]] = {}
    try:
        for name, params in queries.items():
            times = []
            for i in range(rounds + 5):
                sent = params()
                wanted = search.search_of(
                    ctx.vault,
                    trial=sent.get("trial") == "true" if "trial" in sent else None,
                    email=sent.get("email"),
                    company=sent.get("company"),
                    q=sent.get("q"),
                )
                async with ctx.db.read_sessions() as session:
                    if explain and i == 0:
                        await print_plan(session, name, business_id, wanted)
                    start = time.perf_counter()
                    await search.list_page(session, who, page, wanted)
                    elapsed = (time.perf_counter() - start) * 1000
                if i >= 5:
                    times.append(elapsed)
            out[name] = sorted(times)
    finally:
        await ctx.close()
    return out


async def print_plan(
    session: AsyncSession, name: str, business_id: str, wanted: LicenseSearch
) -> None:
    stmt = repository.list_statement(business_id, "live", wanted, 10).limit(10)
    bind = session.get_bind()
    compiled = stmt.compile(bind)
    prefix = "EXPLAIN QUERY PLAN " if bind.dialect.name == "sqlite" else "EXPLAIN "
    params = tuple(compiled.params[n] for n in compiled.positiontup or ())
    conn = await session.connection()
    result = await conn.exec_driver_sql(prefix + str(compiled), params)
    print(f"-- {name}")
    for row in result.all():
        print("   ", row[-1])


def report(title: str, results: dict[str, list[float]]) -> None:
    print(title)
    print(f"{'query':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, times in results.items():
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"{name:<26} {statistics.median(times):8.2f} {p95:8.2f} {times[-1]:8.2f}")


def measure(
    http: httpx.Client, path: str, params: Callable[[], dict[str, str]], rounds: int
) -> list[float]:
    for _ in range(5):
        http.get(path, params=params()).raise_for_status()
    times = []
    for _ in range(rounds):
        sent = params()
        start = time.perf_counter()
        response = http.get(path, params=sent)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--licenses", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as env:
        os.environ.update(env)  # the seeding transaction opens the same database
        cli(env, "db", "upgrade")
        started = time.perf_counter()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api_key, business_id, subs, corpus, made = seed(env, base, args.licenses)
        seeded = time.perf_counter() - started
        serve = [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port)]
        headers = {"Authorization": f"Bearer {api_key}"}
        load = os.getloadavg()[0]
        print(
            f"{args.backend}: {args.licenses} licenses seeded in {seeded:.0f} s; "
            f"{args.rounds} searches per kind, a page of 10, newest first; load {load:.1f}"
        )
        queries = kinds(random.Random(11), subs, corpus, made)
        report(
            "the query alone (search.list_page in one process, no HTTP):",
            asyncio.run(in_process(business_id, queries, args.rounds, args.explain)),
        )
        with (
            running(serve, f"{base}/health", env=env),
            httpx.Client(base_url=base, headers=headers, timeout=30) as http,
        ):
            queries = kinds(random.Random(11), subs, corpus, made)
            queries["floor: GET /licenses/{id}"] = dict
            timed = {}
            for name, params in queries.items():
                path = f"/licenses/{made[0]['id']}" if name.startswith("floor") else "/licenses"
                timed[name] = sorted(measure(http, path, params, args.rounds))
            report("over HTTP (GET /licenses?..., one client, sequential):", timed)


if __name__ == "__main__":
    main()
