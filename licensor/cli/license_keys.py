"""`licensor license-keys import FILE`: many license keys from a CSV or JSON-lines file.

The engine is `licensor/license_key/importer.py` (docs/import.md); this face checks the
file and the business, owns the transactions (one per batch, through
`common.transaction`), writes the rejected-rows report and draws the progress bar on
stderr. stdout is the JSON summary, as for every command.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from licensor.cli.common import (
    BusinessId,
    DatabaseUrl,
    DataDir,
    Mode,
    ModeOption,
    apply_overrides,
    echo_json,
    fail,
    transaction,
    validation_message,
)
from licensor.cli.groups import license_keys_app

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from licensor.config import Settings
    from licensor.license_key.import_file import FileInfo
    from licensor.license_key.import_rows import Rejected
    from licensor.license_key.import_schemas import ImportSummary
    from licensor.license_key.import_writer import Written


def default_workers(lines: int, batch_size: int) -> int:
    """Processes that prepare batches: one per core but one, at most four (the writing
    process keeps a core: SQLite's inserts run in it); none, a thread, on one core or for
    a file of one or two batches, where starting a process costs more than it saves."""
    cores = os.cpu_count() or 1
    if cores < 2 or lines <= 2 * batch_size:
        return 0
    return min(4, cores - 1)


class Report:
    """The rejected rows, one JSON line each, flushed before their batch commits. A run
    that resumes keeps the lines of its committed batches and drops the rest (written
    for a batch that did not commit), so the file always matches the database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.out: TextIO | None = None

    def open(self, skipped_lines: int) -> None:
        kept: list[str] = []
        if skipped_lines and self.path.exists():
            for text in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    line = json.loads(text)["line"]
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(line, int) and line <= skipped_lines:
                    kept.append(text + "\n")
        self.out = self.path.open("w", encoding="utf-8")
        self.out.writelines(kept)
        self.out.flush()

    def write(self, rows: list[Rejected]) -> None:
        assert self.out is not None
        for row in rows:
            self.out.write(json.dumps(row.report(), ensure_ascii=False) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


class Shown:
    """The listener of a run: the report, and Rich's progress bar on stderr."""

    def __init__(self, report: Report, progress: bool) -> None:
        self.report = report
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.imported = 0
        self.since = time.monotonic()
        self.show = progress

    def started(self, run_id: str, total_lines: int, skipped_lines: int) -> None:
        self.report.open(skipped_lines)
        if not self.show:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            TextColumn("{task.fields[imported]:,} keys, {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "import", total=total_lines, completed=skipped_lines, imported=0, rate=0.0
        )
        self.since = time.monotonic()

    def rejected(self, rows: list[Rejected]) -> None:
        self.report.write(rows)

    def committed(self, last_line: int, written: Written) -> None:
        self.imported += written.imported
        if self.progress is not None and self.task is not None:
            rate = self.imported / max(time.monotonic() - self.since, 1e-6)
            self.progress.update(self.task, completed=last_line, imported=self.imported, rate=rate)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.report.close()


@license_keys_app.command("import")
def import_keys(
    file: Annotated[Path, typer.Argument(help="A CSV (.csv) or JSON-lines (.jsonl) file.")],
    business_id: BusinessId,
    mode: ModeOption = Mode.test,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the name).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=100_000, help="Rows per transaction.")
    ] = 10_000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=32,
            help="Processes preparing batches (0: a thread; default: cores less one, up to 4).",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Rejected rows, JSON lines (default: FILE.rejected.jsonl)."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="The progress bar on stderr.")
    ] = True,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import license keys from a file, in batches; run it again to resume (docs/import.md)."""
    from pydantic import ValidationError

    from licensor.kit.errors import LicensorError
    from licensor.license_key import import_file
    from licensor.license_key.importer import BatchFailed

    began = time.monotonic()  # the summary's time includes hashing the file
    settings = apply_overrides(data_dir, database_url)
    report_path = report or file.with_name(file.name + ".rejected.jsonl")
    try:
        info = import_file.inspect(file, file_format)
        import_file.header_of(info)
        how = How(
            report=report_path,
            progress=progress,
            batch_size=batch_size,
            workers=default_workers(info.lines, batch_size) if workers is None else workers,
            began=began,
        )
        summary = _run(settings, business_id, mode, info, how)
    except LicensorError as exc:
        raise fail(exc.code, exc.message) from exc
    except ValidationError as exc:
        raise fail("VALIDATION_ERROR", validation_message(exc)) from exc
    except BatchFailed as exc:
        lines = f"{exc.first_line}-{exc.last_line}"
        message = f"{exc}; nothing of lines {lines} was written: run again to resume"
        raise fail("IMPORT_BATCH_FAILED", message) from exc
    except OSError as exc:  # the report cannot be written
        raise fail("IMPORT_REPORT_FAILED", f"{report_path}: {exc.strerror or exc}") from exc
    summary.report = str(report_path)
    echo_json(summary)


@dataclass(frozen=True)
class How:
    report: Path
    progress: bool
    batch_size: int
    workers: int
    began: float


def _run(
    settings: Settings, business_id: str, mode: Mode, info: FileInfo, how: How
) -> ImportSummary:
    import asyncio

    from licensor.business import service as business_service
    from licensor.kit.context import AppContext
    from licensor.kit.tenancy import Principal
    from licensor.license_key.importer import run_import

    who = Principal(business_id=business_id, mode=mode.value, api_key_id="cli")

    async def go() -> ImportSummary:
        ctx = AppContext.from_settings(settings)
        shown = Shown(Report(how.report), how.progress)
        try:
            async with transaction(ctx) as session:
                await business_service.find_business(session, business_id)
            return await run_import(
                ctx,
                who,
                info,
                lambda: transaction(ctx),
                shown,
                batch_size=how.batch_size,
                workers=how.workers,
                began=how.began,
            )
        finally:
            shown.close()
            await ctx.close()

    return asyncio.run(go())
