"""Importing a file of license keys: one import run, in batches (docs/import.md).

The face that calls `run_import` owns the transactions: it passes `transaction`, which
opens one (its origin bound) and commits it on leaving, or rolls it back on an error.
The run takes one to start (or find, to resume) its `import_runs` row, one per batch
(`import_writer.write`: all of the batch or none of it) and one to finish.

Batches are read, then validated and sealed (hashed, encrypted) while the previous one is
written: in `workers` processes, or on a thread of this process (`workers=0`: for a small
file, where a process costs more to start than it saves; a thread and SQLite's
`executemany` take turns at Python's lock). Batches are written, and committed, in file
order, so the run's `last_line` is always the end of a committed stretch: running the
same file again resumes after it, and no line is written twice.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.config import Settings, load_server_secret
from licensor.kit import bulk
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.errors import LicensorError
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.license_key import import_writer, repository
from licensor.license_key.import_file import FileInfo, Record, records
from licensor.license_key.import_rows import Batch, Rejected, prepare
from licensor.license_key.import_schemas import ImportSummary
from licensor.license_key.import_writer import RUN_BUSY, ImportRunBusy, Written
from licensor.models import ImportRun

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
DEFAULT_BATCH = 10_000
RUN_FIELDS = ("file_name", "file_format", "file_sha256")


class Listener(Protocol):
    """What the face hears: the run's start, each batch's rejected rows (before the
    batch commits: a report that must survive an interruption), each committed batch."""

    def started(self, run_id: str, total_lines: int, skipped_lines: int) -> None: ...
    def rejected(self, rows: list[Rejected]) -> None: ...
    def committed(self, last_line: int, written: Written) -> None: ...


class BatchFailed(Exception):
    """A batch the database refused: nothing of it was committed."""

    def __init__(self, first_line: int, last_line: int, cause: BaseException) -> None:
        super().__init__(f"lines {first_line}-{last_line}: {cause}")
        self.first_line, self.last_line, self.cause = first_line, last_line, cause


@dataclass
class _Totals:
    imported: int = 0
    rejected: int = 0
    customers_created: int = 0
    batches: int = 0


# PostgreSQL's planner statistics during a run, not only after it: a table it last saw
# empty it takes for small, and a batch's lookup of its customers by email then walks
# every customer of the business (with 200,000 of them, seconds a batch). Refreshed once
# ANALYZE_FIRST keys are in, then each time the run's keys have grown ANALYZE_GROWTH-fold.
ANALYZED = ("license_keys", "customers")
ANALYZE_FIRST = 10_000
ANALYZE_GROWTH = 4


async def _start(session: AsyncSession, who: Principal, info: FileInfo) -> ImportRun:
    """The file's run for this business and mode: found (to resume), or created."""
    run = await repository.find_run(session, who.business_id, who.mode, info.sha256)
    if run is not None:
        return run
    now = utcnow()
    run = ImportRun(
        id=new_id("imp"),
        business_id=who.business_id,
        mode=who.mode,
        file_sha256=info.sha256,
        file_name=info.path.name[:300],
        file_format=info.format,
        status="running",
        last_line=0,
        imported=0,
        rejected=0,
        customers_created=0,
        batches=0,
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the same file, started at the same moment elsewhere
        raise ImportRunBusy(
            "another process is starting this file's import", code=RUN_BUSY
        ) from exc
    audit.creation(session, run, "import_run.started", RUN_FIELDS)
    return run


async def _finish(session: AsyncSession, run_id: str, loaded: bool) -> ImportRun:
    run = await session.get(ImportRun, run_id)
    assert run is not None
    if run.status != "completed":
        before = audit.snapshot(run, ("status",))
        run.status = "completed"
        run.finished_at = run.updated_at = utcnow()
        await session.flush()
        note = f"{run.imported} imported, {run.rejected} rejected, through line {run.last_line}"
        audit.change(session, run, "import_run.completed", ("status",), before, note=note)
    if loaded:  # PostgreSQL's planner statistics after a bulk load (autovacuum's, sooner)
        await bulk.analyze(session, ANALYZED)
    return run


@dataclass
class _Writer:
    """Writes batches in order. Keys are not looked up before a batch is written until
    one batch meets a key that exists (the unique index refuses it): that batch is
    written again, checking, and so is every later one (a file that repeats keys, or
    runs beside another import of the same keys)."""

    transaction: Transaction
    who: Principal
    run_id: str
    to: Listener
    checking: bool = False

    async def commit(self, after: int, batch: Batch) -> Written:
        while True:
            try:
                async with self.transaction() as session:
                    return await import_writer.write(
                        session,
                        self.who,
                        self.run_id,
                        after,
                        batch,
                        self.to.rejected,
                        check_existing=self.checking,
                    )
            except LicensorError:
                raise
            except Exception as exc:
                if self.checking or not bulk.is_integrity_error(exc):
                    raise BatchFailed(batch.first_line, batch.last_line, exc) from exc
                self.checking = True


async def run_import(
    ctx: AppContext,
    who: Principal,
    info: FileInfo,
    transaction: Transaction,
    to: Listener,
    *,
    batch_size: int = DEFAULT_BATCH,
    workers: int = 0,
    began: float | None = None,
) -> ImportSummary:
    """Import the file (or the rest of it) for `who`; `began` (`time.monotonic()`) is when
    the caller started, reading the file's hash included, for the summary's time."""
    began = time.monotonic() if began is None else began
    async with transaction() as session:
        run = await _start(session, who, info)
        run_id, after, status = run.id, run.last_line, run.status
    skipped = after
    to.started(run_id, info.lines, skipped)
    done = _Totals()
    if status != "completed":
        writer = _Writer(transaction, who, run_id, to)
        analyze_at = ANALYZE_FIRST
        with _preparer(ctx, workers) as preparer:
            async for batch in preparer.batches(records(info, after_line=after), batch_size):
                written = await writer.commit(after, batch)
                after = batch.last_line
                done.imported += written.imported
                done.rejected += len(written.rejected)
                done.customers_created += written.customers_created
                done.batches += 1
                to.committed(after, written)
                if done.imported >= analyze_at:  # the tables grew: the planner must know
                    async with transaction() as session:
                        await bulk.analyze(session, ANALYZED)
                    analyze_at = done.imported * ANALYZE_GROWTH
    async with transaction() as session:
        run = await _finish(session, run_id, loaded=done.imported > 0)
        totals = (run.status, run.imported, run.rejected)
    seconds = time.monotonic() - began
    return ImportSummary(
        run_id=run_id,
        status=totals[0],
        file_sha256=info.sha256,
        imported=done.imported,
        rejected=done.rejected,
        customers_created=done.customers_created,
        skipped_lines=skipped,
        batches=done.batches,
        seconds=round(seconds, 3),
        keys_per_second=round(done.imported / seconds, 1) if seconds > 0 else 0.0,
        run_imported=totals[1],
        run_rejected=totals[2],
        report=None,
    )


class _Preparer:
    """Batches of records, prepared ahead of the writer: up to `ahead` at a time."""

    def __init__(
        self, executor: Executor, ahead: int, work: Callable[[list[Record]], Batch]
    ) -> None:
        self.executor = executor
        self.ahead = ahead
        self.work = work
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="import-reader")

    def __enter__(self) -> _Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.shutdown(wait=True, cancel_futures=True)
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def batches(self, source: Iterator[Record], size: int) -> AsyncIterator[Batch]:
        """The batches in file order. A producer reads the next chunk (a thread) and
        hands it to the executor while earlier batches are written; at most `ahead`
        wait, prepared or being prepared."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[asyncio.Future[Batch] | None] = asyncio.Queue(maxsize=self.ahead)

        def chunk() -> list[Record]:
            return list(islice(source, size))

        async def produce() -> None:
            try:
                while chunk_ := await loop.run_in_executor(self.reader, chunk):
                    future: Future[Batch] = self.executor.submit(self.work, chunk_)
                    await queue.put(asyncio.wrap_future(future))
            finally:
                await queue.put(None)

        producer = asyncio.ensure_future(produce())
        try:
            while (item := await queue.get()) is not None:
                yield await item
            await producer  # a reading error, raised here
        finally:
            producer.cancel()


_WORKER_VAULT: list[Vault] = []


def _worker_start(settings: Settings) -> None:
    _WORKER_VAULT.append(Vault(load_server_secret(settings)))
    # A worker outlives a parent that was killed (it holds its queue's both ends): it
    # leaves as soon as the parent is gone.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_leave_with, args=(parent.sentinel,), daemon=True).start()


def _leave_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _worker_prepare(chunk: list[Record]) -> Batch:
    return prepare(chunk, _WORKER_VAULT[0])


def _preparer(ctx: AppContext, workers: int) -> _Preparer:
    if workers <= 0:
        vault = ctx.vault
        # One thread: it prepares the next batch while this one is written (it gains
        # where the database does its part in another process: PostgreSQL).
        return _Preparer(
            ThreadPoolExecutor(1, thread_name_prefix="import-prepare"),
            1,
            lambda chunk: prepare(chunk, vault),
        )
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(ctx.settings,),
    )
    return _Preparer(pool, workers + 1, _worker_prepare)
