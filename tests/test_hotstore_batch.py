"""Group commit on the SQLite hot store's writer (`kit/hotstore.py` `write_batched`): the
writes waiting when the writer thread gets to them share one transaction, each under its
own savepoint, and each answers only after the COMMIT. Real SQLite files, no server."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from licensor.kit.hotstore import SqliteHot, writers_turn


def _store(tmp_path: Path) -> tuple[SqliteHot, str]:
    path = str(tmp_path / "hot.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    setup.commit()
    setup.close()
    return SqliteHot(f"sqlite+aiosqlite:///{path}"), path


def _size(path: str) -> int:
    """The database file's own size (not its WAL's)."""
    return Path(path).stat().st_size


def _committed(path: str) -> set[int]:
    other = sqlite3.connect(path)
    try:
        return {n for (n,) in other.execute("SELECT n FROM t")}
    finally:
        other.close()


async def test_waiting_writes_share_one_transaction_and_answer_after_commit(
    tmp_path: Path,
) -> None:
    hot, path = _store(tmp_path)
    gate = threading.Event()
    seen: dict[int, set[int]] = {}

    def first(conn: sqlite3.Connection) -> int:
        gate.wait(10)  # the others queue up behind it meanwhile
        conn.execute("INSERT INTO t VALUES (0)")
        return 0

    def later(n: int):  # type: ignore[no-untyped-def]
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            seen[n] = _committed(path)  # what another connection sees now
            return n

        return work

    try:
        head = asyncio.create_task(hot.write_batched(first))
        await asyncio.sleep(0.05)  # the writer thread is inside `first`
        rest = [asyncio.create_task(hot.write_batched(later(n))) for n in range(1, 11)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in rest)
        gate.set()
        assert await head == 0
        assert await asyncio.gather(*rest) == list(range(1, 11))
        # The ten queued writes ran in one transaction: none saw another's row committed.
        assert all(committed == {0} for committed in seen.values()), seen
        assert _committed(path) == set(range(11))
    finally:
        await hot.close()


async def test_a_failing_write_undoes_only_itself(tmp_path: Path) -> None:
    hot, path = _store(tmp_path)
    gate = threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        gate.wait(10)
        conn.execute("INSERT INTO t VALUES (100)")

    def insert(n: int, fail: bool = False):  # type: ignore[no-untyped-def]
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            if fail:
                raise ValueError(f"write {n} refused")
            return n

        return work

    try:
        head = asyncio.create_task(hot.write_batched(hold))
        await asyncio.sleep(0.05)
        tasks = [
            asyncio.create_task(hot.write_batched(insert(1))),
            asyncio.create_task(hot.write_batched(insert(2, fail=True))),
            asyncio.create_task(hot.write_batched(insert(3))),
            asyncio.create_task(hot.write_batched(insert(1))),  # a constraint: undone alone
        ]
        await asyncio.sleep(0.05)
        gate.set()
        await head
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results[0] == 1
        assert results[2] == 3
        assert isinstance(results[1], ValueError)
        assert isinstance(results[3], sqlite3.IntegrityError)
        assert _committed(path) == {100, 1, 3}
    finally:
        await hot.close()


async def test_a_failed_commit_fails_the_whole_group(tmp_path: Path) -> None:
    """A deferred foreign key fails at COMMIT: every write of that group fails, none lands."""
    path = str(tmp_path / "fk.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    setup.execute(
        "CREATE TABLE c (id INTEGER PRIMARY KEY, "
        "p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)"
    )
    setup.commit()
    setup.close()
    hot = SqliteHot(f"sqlite+aiosqlite:///{path}")
    gate = threading.Event()
    try:
        head = asyncio.create_task(hot.write_batched(lambda conn: gate.wait(10)))
        await asyncio.sleep(0.05)
        good = asyncio.create_task(
            hot.write_batched(lambda conn: conn.execute("INSERT INTO p VALUES (1)").rowcount)
        )
        orphan = asyncio.create_task(
            hot.write_batched(lambda conn: conn.execute("INSERT INTO c VALUES (1, 99)").rowcount)
        )
        await asyncio.sleep(0.05)
        gate.set()
        assert await head is True  # it ran alone, before the others queued
        results = await asyncio.gather(good, orphan, return_exceptions=True)
        assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
        check = sqlite3.connect(path)
        assert check.execute("SELECT count(*) FROM p").fetchone() == (0,)
        check.close()
        # The writer is usable again afterwards.
        assert await hot.write_batched(lambda c: c.execute("INSERT INTO p VALUES (2)").rowcount)
    finally:
        await hot.close()


async def test_writers_of_one_file_take_turns_by_its_lock_file(tmp_path: Path) -> None:
    """Another process's writer holds `<database>-writers`: this one waits for it (no
    polling of SQLite's lock), then writes the moment it is released."""
    hot, path = _store(tmp_path)
    other = os.open(path + "-writers", os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        batched = asyncio.create_task(
            hot.write_batched(lambda c: c.execute("INSERT INTO t VALUES (1)").rowcount)
        )
        single = asyncio.create_task(
            hot.write(lambda c: c.execute("INSERT INTO t VALUES (2)").rowcount)
        )
        await asyncio.sleep(0.3)
        assert not batched.done()
        assert not single.done()
        assert _committed(path) == set()
        fcntl.flock(other, fcntl.LOCK_UN)
        assert list(await asyncio.wait_for(asyncio.gather(batched, single), 5)) == [1, 1]
        assert _committed(path) == {1, 2}
    finally:
        os.close(other)
        await hot.close()


async def test_another_connections_write_can_take_the_writers_turn(tmp_path: Path) -> None:
    """`writers_turn` (the audit sealer's, on SQLite) waits for the lock file like the hot
    writers do, and holds it while inside: a hot write waits for it to end."""
    hot, path = _store(tmp_path)
    other = os.open(path + "-writers", os.O_RDWR)
    url = f"sqlite+aiosqlite:///{path}"
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def sealer_like() -> None:
        async with writers_turn(url):
            inside.set()
            await leave.wait()

    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        turn = asyncio.create_task(sealer_like())
        await asyncio.sleep(0.2)
        assert not inside.is_set()  # the turn is someone else's
        fcntl.flock(other, fcntl.LOCK_UN)
        await asyncio.wait_for(inside.wait(), 5)
        write = asyncio.create_task(
            hot.write_batched(lambda c: c.execute("INSERT INTO t VALUES (7)").rowcount)
        )
        await asyncio.sleep(0.2)
        assert not write.done()  # the hot writer waits for the turn's end
        leave.set()
        await turn
        assert await asyncio.wait_for(write, 5) == 1
    finally:
        os.close(other)
        await hot.close()


@pytest.mark.parametrize("way", ["write_batched", "write"])
async def test_the_wal_is_copied_back_off_the_writer_thread(tmp_path: Path, way: str) -> None:
    """The writer's own automatic checkpoint is off; after a group commit, and after a
    plain `write` (a heartbeat, a check-in's last-seen: autocommitted statements), the
    checkpoint thread copies the WAL back into the database file, long before SQLite's
    1,000-page threshold would have made a COMMIT do it: the WAL never grows unbounded."""
    hot, path = _store(tmp_path)
    try:
        assert hot.writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        grown = _size(path) + 100 * 3000

        def fill(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE blobs (b BLOB)")
            conn.executemany("INSERT INTO blobs VALUES (?)", [(os.urandom(3000),)] * 100)

        await getattr(hot, way)(fill)  # about 100 pages: a tenth of the threshold
        for _ in range(200):
            if _size(path) > grown:
                break
            await asyncio.sleep(0.01)
        assert _size(path) > grown
    finally:
        await hot.close()
