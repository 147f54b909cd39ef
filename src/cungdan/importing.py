"""``cungdan import FILE [--dry-run]``: a CSV or XLSX file of reports into the ingest's
``POST /v1/imports``.

The file goes up in one request, and the ingest answers one summary for the whole file
(counts, and the rows it did not take with the column and the reason). Sending the file
in chunks of rows would show counts as they go, but it would split one import into
several: a failure half-way would leave half a file in, the row numbers would be the
chunks', and an XLSX file would have to be rewritten on the way. So the progress shown
on a terminal is the upload's (bytes and the rows they hold, rate, time left), then a
spinner until the summary, then the summary.

The rows the ingest refused (``rejected`` and ``conflict``) are copied from the file, with
a ``reason`` column added, to ``NAME.rejected.csv`` beside it: fix them there and import
that file. Exit status 0 when every row was taken (accepted or already there), 1 otherwise.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from cungdan_ingest import sheets
from cungdan_ingest.sheets import Cell, Formula, Row

from .addresses import ServiceAddresses
from .client import bearer
from .command_errors import CommandError, check

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {".csv": "text/csv", ".xlsx": XLSX}
NOT_TAKEN = ("rejected", "conflict")
"""Outcomes of rows that are not in the stream: copied to the rejected file."""
REASON = "reason"
CHUNK = 64 * 1024


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    command = commands.add_parser(
        "import", help="import a CSV or XLSX file of reports (rejected rows to NAME.rejected.csv)")
    command.add_argument("file", type=Path, help="a .csv (UTF-8) or .xlsx file, header on row 1")
    command.add_argument("--dry-run", action="store_true",
                         help="check every row, store nothing (the rejected file is written)")
    command.add_argument("--token", default=os.environ.get("CUNGDAN_TOKEN"),
                         help="API token with the report role (default: CUNGDAN_TOKEN)")
    command.add_argument("--ingest", default=None,
                         help="ingest base URL (default: CUNGDAN_INGEST_URL, else "
                              "http://CUNGDAN_INGEST_HOST:CUNGDAN_INGEST_PORT)")


def run_command(args: argparse.Namespace) -> int:
    path: Path = args.file
    content_type = content_type_of(path)
    console = Console()
    started = time.monotonic()
    with _progress(console) as progress:
        summary = upload(args.ingest or ServiceAddresses().ingest, path, content_type,
                         token=args.token, dry_run=args.dry_run,
                         on_sent=progress.sent if progress else None,
                         total_rows=count_rows(path) if progress else None)
    refused = refused_rows(summary)
    written = write_rejected(path, refused, summary.get("separator") or ",",
                             summary.get("encoding") or "utf-8") if refused else None
    print(render_summary(summary, refused, path, written, time.monotonic() - started))
    return 1 if refused else 0


def content_type_of(path: Path) -> str:
    if not path.is_file():
        raise CommandError(f"no file {path}", status=2)
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise CommandError(f"{path}: a .csv or .xlsx file is expected", status=2)
    return content_type


def upload(ingest: str, path: Path, content_type: str, *, token: str | None, dry_run: bool,
           on_sent: Callable[[int, int, int | None], None] | None = None,
           total_rows: int | None = None) -> dict[str, Any]:
    """POST the file, streamed; ``on_sent(bytes sent, bytes in all, rows)`` as it goes.
    The ingest's summary; a whole-file refusal raises :class:`CommandError`."""
    size = path.stat().st_size

    def chunks() -> Iterator[bytes]:
        sent = 0
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                sent += len(chunk)
                if on_sent is not None:
                    on_sent(sent, size, total_rows)
                yield chunk

    timeout = httpx.Timeout(10.0, read=600.0)
    with httpx.Client(base_url=ingest, timeout=timeout, trust_env=False,
                      headers=bearer(token)) as client:
        try:
            response = client.post("/v1/imports", content=chunks(),
                                   params={"dry_run": "true"} if dry_run else None,
                                   headers={"Content-Type": content_type,
                                            "Content-Length": str(size)})
        except (httpx.WriteError, httpx.RemoteProtocolError) as exc:
            raise CommandError(f"the ingest closed the connection during the upload of "
                               f"{path} ({size:,} bytes): too large? ({exc})") from exc
    body: dict[str, Any] = check(response, "ingest").json()
    return body


@dataclass(frozen=True)
class Refusal:
    row: int
    reasons: tuple[str, ...]


def refused_rows(summary: dict[str, Any]) -> dict[int, Refusal]:
    """The rows not taken, by row number, with every reason given for each."""
    reasons: dict[int, list[str]] = defaultdict(list)
    for entry in summary.get("rows") or []:
        if entry.get("outcome") not in NOT_TAKEN:
            continue
        column = entry.get("column")
        text = f"{column}: {entry.get('reason')}" if column else str(entry.get("reason"))
        if entry["outcome"] == "conflict":
            text = f"conflict: {text}"
        reasons[int(entry["row"])].append(text)
    return {row: Refusal(row, tuple(texts)) for row, texts in sorted(reasons.items())}


def write_rejected(path: Path, refused: dict[int, Refusal], separator: str = ",",
                   encoding: str = "utf-8") -> Path:
    """Copy the refused rows of ``path`` (a CSV read with ``separator`` in ``encoding``)
    beside it, under its header, with a ``reason`` column (always UTF-8 with commas)."""
    from cungdan_ingest.imports import is_comment  # contracts and pydantic: only when needed

    target = rejected_path(path)
    header: list[str] | None = None
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        for row in read_rows(path, separator, encoding):
            values = [_cell_text(cell) for cell in row.cells]
            if header is None and not is_comment(row):  # the header, as the ingest finds it
                header = values[:-1] if values and values[-1] == REASON else values
                writer.writerow([*header, REASON])
            elif header is not None and row.number in refused:
                writer.writerow([*values[:len(header)], *[""] * (len(header) - len(values)),
                                 "; ".join(refused[row.number].reasons)])
    return target


def rejected_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejected.csv")


def read_rows(path: Path, separator: str = ",", encoding: str = "utf-8") -> Iterator[Row]:
    """The non-blank rows of the file, numbered as the ingest numbers them (the header is
    row 1): an XLSX read by the ingest's own reader; a CSV read with ``separator`` in
    ``encoding`` (``utf-8`` or ``utf-16``), as the ingest told in its summary."""
    if path.suffix.lower() == ".xlsx":
        with path.open("rb") as file:
            try:
                yield from sheets.rows(file, "xlsx")
            except sheets.SheetError as exc:
                raise CommandError(f"{path}: {exc.detail}") from exc
        return
    codec = "utf-16" if encoding == "utf-16" else "utf-8-sig"  # a BOM is read, not kept
    with path.open(newline="", encoding=codec, errors="replace") as file:
        for number, record in enumerate(csv.reader(file, delimiter=separator), start=1):
            if any(cell.strip() for cell in record):
                yield Row(number, tuple(record))


def count_rows(path: Path) -> int | None:
    """The data rows of the file (header not counted), for the progress; None if unknown.
    An XLSX's is the size its sheet records (reading the sheet through would take seconds
    for a large one): an estimate."""
    if path.suffix.lower() == ".xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            rows = workbook.worksheets[0].max_row
        finally:
            workbook.close()
        return None if rows is None else max(0, rows - 1)
    with path.open("rb") as head:
        utf16 = head.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    with path.open(newline="", encoding="utf-16" if utf16 else "utf-8-sig",
                   errors="replace") as file:
        return max(0, sum(1 for _ in csv.reader(file)) - 1)


def _cell_text(cell: Cell) -> str:
    """A cell as the rejected CSV holds it. A formula is written as its text behind an
    apostrophe: a spreadsheet opening the CSV shows it instead of computing it (with other
    cells than it was written for), and imported again it is refused, not read as a value."""
    if cell is None:
        return ""
    if isinstance(cell, Formula):
        return "'" + cell.text
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    if isinstance(cell, Decimal) and cell.is_finite() and cell == cell.to_integral_value():
        return str(int(cell))
    return str(cell)


def render_summary(summary: dict[str, Any], refused: dict[int, Refusal], path: Path,
                   written: Path | None, seconds: float, shown: int = 5) -> str:
    """The counts and the first ``shown`` of the ``refused`` rows (:func:`refused_rows`)."""
    counts: dict[str, int] = summary.get("counts") or {}
    dry = " (dry run: nothing stored)" if summary.get("dry_run") else ""
    lines = [f"{path}: {sum(counts.get(k, 0) for k in _ORDER)} rows in {seconds:.1f} s{dry}",
             "  " + ", ".join(f"{counts.get(k, 0):,} {k}" for k in _ORDER)]
    for refusal in list(refused.values())[:shown]:
        lines.append(f"  row {refusal.row}: {'; '.join(refusal.reasons)}")
    if len(refused) > shown:
        lines.append(f"  ... and {len(refused) - shown} more rows")
    if written is not None:
        lines.append(f"rows to fix, with their reason: {written} (fix them there and import "
                     "that file)")
    return "\n".join(lines)


_ORDER = ("accepted", "duplicate", "conflict", "rejected")


class _UploadProgress:
    """The upload's progress bar, on a terminal."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
            console=console, transient=True)
        self._task: TaskID | None = None

    def sent(self, sent: int, size: int, rows: int | None) -> None:
        rows_sent = f"~{rows * sent // max(size, 1):,}/{rows:,} rows" if rows else "uploading"
        done = "; waiting for the ingest's summary" if sent >= size else ""
        if self._task is None:
            self._task = self._progress.add_task(rows_sent + done, total=size)
        self._progress.update(self._task, completed=sent, description=rows_sent + done)

    def __enter__(self) -> _UploadProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()


def _progress(console: Console) -> AbstractContextManager[_UploadProgress | None]:
    if console.is_terminal and sys.stdout.isatty():
        return _UploadProgress(console)
    return nullcontext()
