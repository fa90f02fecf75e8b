"""SQLite's change detection for the hot paths' row caches (`kit/rowcache.py`
`DataVersion`): `PRAGMA data_version` asked once per turn of the event loop, and a commit
by another connection seen at the next turn. Real SQLite files, two connections."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from licensor.kit.rowcache import DataVersion, RowCache


def _pair(tmp_path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection, list[str]]:
    """A reader (statements it runs are traced) and a writer on one WAL database."""
    path = tmp_path / "hot.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE hot_versions (topic TEXT PRIMARY KEY, version INTEGER)")
    writer.execute("INSERT INTO hot_versions VALUES ('license_key', 0)")
    reader = sqlite3.connect(path, isolation_level=None)
    asked: list[str] = []
    reader.set_trace_callback(asked.append)
    return reader, writer, asked


def _pragmas(asked: list[str]) -> int:
    return sum(1 for sql in asked if sql == "PRAGMA data_version")


def _bump(writer: sqlite3.Connection) -> None:
    writer.execute("UPDATE hot_versions SET version = version + 1 WHERE topic = 'license_key'")


def test_one_pragma_per_turn_and_the_next_turn_sees_a_commit(tmp_path: Path) -> None:
    reader, writer, asked = _pair(tmp_path)
    changes = DataVersion(reader)
    cache: RowCache[bytes, str] = RowCache("license_key", ttl=60)
    changes.watch(cache)

    async def run() -> None:
        assert changes.fresh()
        cache.fill(b"k", "row", cache.token())
        for _ in range(50):  # the rest of this turn: the requests it serves ask nothing
            assert changes.fresh()
        assert _pragmas(asked) == 1
        _bump(writer)  # another connection commits a change to the topic
        await asyncio.sleep(0)  # the next turn asks again, and empties the topic's cache
        assert changes.fresh()
        assert _pragmas(asked) == 2
        assert cache.hit(b"k") is None

    asyncio.run(run())


def test_without_a_loop_every_call_asks(tmp_path: Path) -> None:
    reader, writer, asked = _pair(tmp_path)
    changes = DataVersion(reader)
    cache: RowCache[bytes, str] = RowCache("license_key", ttl=60)
    changes.watch(cache)
    assert changes.fresh()
    cache.fill(b"k", "row", cache.token())
    _bump(writer)
    assert changes.fresh()
    assert _pragmas(asked) == 2
    assert cache.hit(b"k") is None
