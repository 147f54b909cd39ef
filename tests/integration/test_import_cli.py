"""``cungdan import FILE [--dry-run]`` (the console script, in a subprocess) against a stand-in
of the ingest's ``POST /v1/imports``, served by uvicorn on a free port: it answers the
summary the real endpoint answers (counts; the rows not taken with column, reason and
outcome; dry_run), from the file it received.

The stand-in gives exact control of each answer (exit codes, refusals, the progress); the
command against the real ingest is tested end to end in tests/e2e/test_cli_errors.py."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rich.console import Console

from cungdan.importing import XLSX, Refusal, _UploadProgress, write_rejected
from cungdan.processes import free_port
from cungdan_ingest import sheets

CUNGDAN = str(Path(sys.executable).parent / "cungdan")
GOOD, READER = "cdn_good", "cdn_reader"
MAX_BYTES = 1_000_000
HEADER = ["id", "campaign", "locality", "date", "unit", "road_km"]
ROWS = [
    ["a1", "ngay-cuoi-tuan-cung-dan", "04495", "2023-05-06", "Đoàn xã", "1.5"],
    ["a2", "ngay-cuoi-tuan-cung-dan", "04495", "2023-05-06", "Đoàn xã", "-2"],
    ["seen", "ngay-cuoi-tuan-cung-dan", "04495", "2023-05-07", "Đoàn xã", "3"],
    ["clash", "ngay-cuoi-tuan-cung-dan", "04495", "2023-05-08", "Hội, \"Phụ nữ\"", "4"],
    ["a5", "ngay-cuoi-tuan-cung-dan", "04495", "2023-05-09", "Đoàn xã", "5"],
]


@dataclass
class FakeIngest:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status,
                         "detail": detail}, status_code=status,
                        media_type="application/problem+json")


def _table(body: bytes, content_type: str) -> list[list[str]]:
    if content_type == "text/csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(
        values_only=True)]


def fake_app(received: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/imports")
    async def imports(request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "")
        if token not in (f"Bearer {GOOD}", f"Bearer {READER}"):
            return _problem(401, "Unauthorized", "unknown token")
        if token == f"Bearer {READER}":
            return _problem(403, "Forbidden", "the token lacks the report role")
        content_type = request.headers.get("content-type", "")
        if content_type not in ("text/csv", XLSX):
            return _problem(415, "Unsupported Media Type", f"not a table: {content_type}")
        body = await request.body()
        if len(body) > MAX_BYTES:
            return _problem(413, "Content Too Large", f"the file is over {MAX_BYTES} bytes")
        received.append({"content_type": content_type, "bytes": body,
                         "dry_run": request.query_params.get("dry_run") == "true"})
        table = _table(body, content_type)
        header, counts, rows = table[0], dict.fromkeys(
            ("accepted", "duplicate", "conflict", "rejected"), 0), []
        for number, values in enumerate(table[1:], start=2):
            record = dict(zip(header, values, strict=False))
            if record["road_km"].startswith("-"):
                outcome, column, reason = "rejected", "road_km", "must not be negative"
            elif record["id"] == "seen":
                outcome, column, reason = "duplicate", None, "already imported"
            elif record["id"] == "clash":
                outcome, column, reason = "conflict", "id", "already used for another report"
            else:
                counts["accepted"] += 1
                continue
            counts[outcome] += 1
            rows.append({"row": number, "column": column, "reason": reason,
                         "outcome": outcome})
        return JSONResponse({"counts": counts, "rows": rows,
                             "dry_run": bool(received[-1]["dry_run"])})

    return app


@pytest.fixture(scope="module")
def ingest() -> Iterator[FakeIngest]:
    port = free_port()
    fake = FakeIngest(f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(fake_app(fake.received), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the fake ingest did not start"
        time.sleep(0.02)
    yield fake
    server.should_exit = True
    thread.join(timeout=30)


def cungdan_import(ingest: FakeIngest, *args: str, token: str = GOOD
                   ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUNGDAN_")}
    return subprocess.run([CUNGDAN, "import", *args], capture_output=True, text=True,
                          timeout=120, check=False,
                          env={**env, "CUNGDAN_INGEST_URL": ingest.url, "CUNGDAN_TOKEN": token})


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def rejected_file(path: Path) -> list[list[str]]:
    with path.with_name(f"{path.stem}.rejected.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_the_rejected_rows_are_written_beside_the_file_to_fix(
        ingest: FakeIngest, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "reports.csv", ROWS)
    done = cungdan_import(ingest, str(source))
    assert done.returncode == 1, done.stderr
    assert ingest.received[-1]["bytes"] == source.read_bytes()
    assert ingest.received[-1]["content_type"] == "text/csv"
    assert not ingest.received[-1]["dry_run"]
    assert "2 accepted, 1 duplicate, 1 conflict, 1 rejected" in done.stdout
    assert "row 3: road_km: must not be negative" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr and done.stderr == ""
    assert rejected_file(source) == [
        [*HEADER, "reason"],
        [*ROWS[1], "road_km: must not be negative"],
        [*ROWS[3], "conflict: id: already used for another report"]]

    # Fixed there and imported again, the reason column goes with the file and comes back
    fixed = source.with_name("reports.rejected.csv")
    table = rejected_file(source)
    table[1][5] = "2"
    write_csv(fixed, table[1:], header=table[0])
    again = cungdan_import(ingest, str(fixed))
    assert again.returncode == 1  # the conflict is still there
    assert rejected_file(fixed) == [
        [*HEADER, "reason"], [*ROWS[3], "conflict: id: already used for another report"]]


def test_an_xlsx_file_and_a_dry_run(ingest: FakeIngest, tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "bao-cao.xlsx", ROWS)
    done = cungdan_import(ingest, str(source), "--dry-run")
    assert done.returncode == 1, done.stderr
    assert ingest.received[-1]["content_type"] == XLSX
    assert ingest.received[-1]["dry_run"]
    assert "dry run: nothing stored" in done.stdout
    assert rejected_file(source)[1:] == [
        [*ROWS[1], "road_km: must not be negative"],
        [*ROWS[3], "conflict: id: already used for another report"]]


def test_rows_past_a_stale_dimension_are_copied_as_the_ingest_numbers_them(
        tmp_path: Path) -> None:
    # a writer that left <dimension ref="A1:F3"/> on a sheet of 6 rows (a blank one among
    # them): the ingest reads every row, refuses row 6, and so must the rejected file show it
    source = write_xlsx(tmp_path / "stale.xlsx", [ROWS[0], ROWS[1], [], ROWS[3], ROWS[4]])
    with zipfile.ZipFile(source) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet], replaced = re.subn(rb'<dimension ref="A1:F6"', b'<dimension ref="A1:F3"',
                                     parts[sheet])
    assert replaced == 1
    with zipfile.ZipFile(source, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    with source.open("rb") as file:
        assert [row.number for row in sheets.rows(file, "xlsx")] == [1, 2, 3, 5, 6]
    refused = {3: Refusal(3, ("road_km: must not be negative",)),
               6: Refusal(6, ("road_km: must be a number", "date: not a date"))}
    write_rejected(source, refused)
    assert rejected_file(source) == [
        [*HEADER, "reason"], [*ROWS[1], "road_km: must not be negative"],
        [*ROWS[4], "road_km: must be a number; date: not a date"]]


def test_nothing_rejected_exits_0_and_writes_no_file(ingest: FakeIngest, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "ok.csv", [ROWS[0], ROWS[2], ROWS[4]])
    done = cungdan_import(ingest, str(source))
    assert done.returncode == 0, done.stderr
    assert "2 accepted, 1 duplicate, 0 conflict, 0 rejected" in done.stdout
    assert not (tmp_path / "ok.rejected.csv").exists()


@pytest.mark.parametrize(("token", "expected"), [
    ("cdn_unknown", "the ingest refused the token (401): unknown token"),
    (READER, "the ingest refused the token (403): the token lacks the report role"),
])
def test_a_refused_token_is_one_line(ingest: FakeIngest, tmp_path: Path, token: str,
                                     expected: str) -> None:
    source = write_csv(tmp_path / "reports.csv", ROWS)
    done = cungdan_import(ingest, str(source), token=token)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"cungdan import: {expected}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reports.rejected.csv").exists()


def test_the_progress_shows_rows_bytes_and_the_wait() -> None:
    screen = io.StringIO()
    with _UploadProgress(Console(file=screen, force_terminal=True, width=120)) as progress:
        progress.sent(50_000, 100_000, 1000)
        progress.sent(100_000, 100_000, 1000)
    shown = screen.getvalue()
    assert "100.0/100.0 kB" in shown
    assert "~1,000/1,000 rows; waiting for the ingest's summary" in shown


def test_a_refused_file_is_one_line(ingest: FakeIngest, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "big.csv", [ROWS[0]] * 20_000)
    done = cungdan_import(ingest, str(source))
    assert done.returncode == 1
    assert done.stderr.strip() == ("cungdan import: the ingest refused the body as too large "
                                   f"(413): the file is over {MAX_BYTES} bytes")


def test_a_refused_formula_is_copied_as_text_a_spreadsheet_does_not_compute(
        tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "reports.xlsx", [ROWS[0], ROWS[1]])
    workbook = openpyxl.load_workbook(source)
    workbook.active["F3"] = "=F2*2"  # road_km of the second row: a formula, refused
    workbook.save(source)
    refused = {3: Refusal(3, ("road_km: a formula (=F2*2): the import reads values; paste "
                              "the values instead",))}
    written = write_rejected(source, refused)
    with written.open(newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    assert table[0] == [*HEADER, "reason"]
    assert table[1][5] == "'=F2*2" and table[1][:5] == ROWS[1][:5]
    assert len(table) == 2
