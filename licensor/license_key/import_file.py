"""Reading a license-key import file: its identity (SHA-256, lines) and its records.

A file is CSV (a header row naming the columns, then one key per record) or JSON lines
(one object per line); both are UTF-8 (a leading BOM is allowed). A record is numbered by
the line it starts on, counting the header as line 1: the numbers the rejected-rows
report gives, and the position an interrupted run resumes after. Blank lines are
skipped. The columns are `import_schemas.COLUMNS` (docs/import.md); a field by another
name is refused (the API ignores unknown fields, but in a file a misspelt column would
drop a value for every row).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, NamedTuple

import orjson

from licensor.kit.errors import Unprocessable
from licensor.license_key.import_schemas import COLUMNS, NULLABLE, REQUIRED

Format = Literal["csv", "jsonl"]
FILE_INVALID = "IMPORT_FILE_INVALID"
CHUNK = 1 << 20
KNOWN = frozenset(COLUMNS)
csv.field_size_limit(1 << 20)


@dataclass(frozen=True)
class FileInfo:
    path: Path
    format: Format
    sha256: str
    lines: int  # physical lines, the header included


class Record(NamedTuple):
    """One record: its line, and its fields as the row model takes them; `problem`
    instead when the line is unreadable (bad JSON, wrong field count, an unknown field),
    with its `key` where one can be read (the report shows it masked)."""

    line: int
    fields: dict[str, object] | None
    problem: str | None = None
    key: str | None = None


def format_of(path: Path, given: str | None) -> Format:
    if given is not None:
        if given not in ("csv", "jsonl"):
            raise Unprocessable("--format is csv or jsonl", code=FILE_INVALID)
        return "csv" if given == "csv" else "jsonl"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise Unprocessable(
        f"{path.name}: cannot tell the format from the name; pass --format csv or jsonl",
        code=FILE_INVALID,
    )


def inspect(path: Path, given: str | None = None) -> FileInfo:
    """Hash and count the file in one pass, and check it is UTF-8 throughout (so a run
    never stops halfway on an undecodable byte)."""
    fmt = format_of(path, given)
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, tail = 0, b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                lines += chunk.count(b"\n")
                tail = chunk[-1:]
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except OSError as exc:
        raise Unprocessable(f"{path}: {exc.strerror or exc}", code=FILE_INVALID) from exc
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"{path.name}: not UTF-8 text ({exc.reason})", code=FILE_INVALID
        ) from exc
    if tail and tail != b"\n":
        lines += 1  # a last line without its newline
    return FileInfo(path=path, format=fmt, sha256=digest.hexdigest(), lines=lines)


def _open(info: FileInfo) -> IO[str]:
    return info.path.open(encoding="utf-8-sig", newline="")


def records(info: FileInfo, after_line: int = 0) -> Iterator[Record]:
    """The file's records, starting with the first that begins after `after_line`."""
    if info.format == "csv":
        return _csv_records(info, after_line)
    return _jsonl_records(info, after_line)


def check_header(header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    unknown = sorted(set(names) - set(COLUMNS))
    if unknown:
        raise Unprocessable(
            f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}",
            code=FILE_INVALID,
        )
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise Unprocessable(f"column(s) named twice: {', '.join(doubled)}", code=FILE_INVALID)
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise Unprocessable(f"missing column(s): {', '.join(missing)}", code=FILE_INVALID)
    return names


def header_of(info: FileInfo) -> list[str] | None:
    """A CSV file's columns, checked (None for JSON lines): read before a run starts, so a
    bad header refuses the file before anything is written."""
    if info.format != "csv":
        return None
    with _open(info) as fh:
        for row in csv.reader(fh):
            if row:
                return check_header(row)
    raise Unprocessable(f"{info.path.name}: no header row", code=FILE_INVALID)


def _csv_records(info: FileInfo, after_line: int) -> Iterator[Record]:
    with _open(info) as fh:
        reader = csv.reader(fh)
        columns: list[str] | None = None
        width = 0
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(start, None, f"not valid CSV: {exc}")
                continue
            if not cells:
                continue  # a blank line
            if columns is None:
                columns = check_header(cells)
                width = len(columns)
                continue
            if start <= after_line:
                continue
            if len(cells) != width:
                yield Record(start, None, f"{len(cells)} fields where the header has {width}")
                continue
            # An empty cell is left out, or null in a nullable column (as JSON's null).
            fields: dict[str, object] = {}
            for name, cell in zip(columns, cells, strict=True):
                if cell:
                    fields[name] = cell
                elif name in NULLABLE:
                    fields[name] = None
            yield Record(start, fields)


def _jsonl_records(info: FileInfo, after_line: int) -> Iterator[Record]:
    with _open(info) as fh:
        for number, text in enumerate(fh, start=1):
            if number <= after_line or not text.strip():
                continue
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield Record(number, None, f"not valid JSON ({exc})")
                continue
            if not isinstance(value, dict):
                yield Record(number, None, "a line must hold one JSON object")
                continue
            unknown = value.keys() - KNOWN
            if unknown:
                key = value.get("key")
                problem = f"unknown field(s): {', '.join(sorted(unknown))}"
                yield Record(number, None, problem, key if isinstance(key, str) else None)
                continue
            yield Record(number, value)
