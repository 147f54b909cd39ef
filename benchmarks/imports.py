"""The import figures: ``POST /v1/imports`` of a CSV against the batch endpoint on the same
reports (same run, in turns, each on a fresh server), and the ingest's peak RSS while it
imports a big XLSX."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from openpyxl import Workbook

from cungdan.processes import LOCALHOST
from cungdan_contracts import INDICATORS
from cungdan_ingest.import_upload import XLSX

from .events import max_batch, reports
from .machine import CpuMeter, status_kib

if TYPE_CHECKING:
    from .figures import Bench

COLUMNS = ["id", "campaign", "locality", "date", "unit", *INDICATORS]


def _cells(raw: dict[str, Any]) -> list[Any]:
    unit = raw["unit"]["name"] if isinstance(raw["unit"], dict) else raw["unit"]
    measures = raw["measures"]
    return [raw["id"], raw["campaign"], raw["locality"], raw["date"], unit,
            *(str(measures[c]) if c in measures else "" for c in INDICATORS)]


def csv_of(raws: Sequence[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_cells(r) for r in raws)
    return out.getvalue().encode()


def write_xlsx(raws: Sequence[dict[str, Any]], path: Path) -> None:
    """Numbers as number cells (as Excel keeps them), the rest as text."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(COLUMNS)
    for raw in raws:
        cells = _cells(raw)
        sheet.append([*cells[:5], *(float(c) if "." in c else int(c) if c else None
                                    for c in cells[5:])])
    book.save(path)


async def _post(port: int, body: bytes | Path, content_type: str) -> tuple[float, dict[str, Any]]:
    """Seconds to the answer, and the answer."""
    async with httpx.AsyncClient(base_url=f"http://{LOCALHOST}:{port}", timeout=1800,
                                 trust_env=False) as client:
        started = time.perf_counter()
        if isinstance(body, Path):
            with body.open("rb") as file:
                response = await client.post("/v1/imports", content=file.read(),
                                             headers={"content-type": content_type})
        else:
            response = await client.post("/v1/imports", content=body,
                                         headers={"content-type": content_type})
        seconds = time.perf_counter() - started
    answer: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"import answered {response.status_code}: {response.text[:500]}")
    return seconds, answer


async def import_csv(bench: Bench) -> None:
    """Rows/s of a CSV import against events/s of the batch endpoint, the same reports."""
    from .figures import FIGURES, Row, Target, _batches, _median, _n

    s = bench.sizes
    raws = reports(s.import_rows, seed=301)
    warm = reports(min(s.batch_size, max_batch()), seed=302)
    body = csv_of(raws)
    bodies = _batches(raws, min(s.batch_size, max_batch()))
    batches: list[tuple[float, str]] = []
    imports: list[tuple[float, float, str]] = []
    for turn in range(1, s.ingest_rounds + 1):
        bench.log(f"import-csv: batch endpoint, {len(raws):,} reports (turn {turn})")
        rate, accepted, _, cpu = await bench._ingest_batch_run(f"import-batch-{turn}", bodies,
                                                               warm)
        batches.append((rate, cpu))
        bench.log(f"import-csv: batch {_n(rate)} ev/s; the same reports as one CSV of "
                  f"{len(body) / 1e6:.1f} MB (turn {turn})")
        name = f"import-csv-{turn}"
        with bench._nats(name) as server, bench._ingest(server.url, name) as ingest:
            assert server.pid is not None and ingest.pid is not None
            await _post(ingest.port, csv_of(warm), "text/csv")
            meter = CpuMeter({"ingest": ingest.pid, "nats-server": server.pid})
            seconds, answer = await _post(ingest.port, body, "text/csv")
            accepted = answer["counts"]["accepted"]
            if accepted != len(raws):
                bench.warnings.append(f"import-csv: {accepted} of {len(raws)} accepted")
            imports.append((accepted / seconds, seconds, meter.describe()))
        bench.log(f"import-csv: {_n(imports[-1][0])} rows/s")
    base, base_cpu = _median(batches, lambda b: b[0])
    rate, seconds, cpu = _median(imports, lambda i: i[0])
    ratio = rate / base
    row = Row("import-csv", FIGURES["import-csv"], f"{_n(rate)} rows/s",
              f"{_n(base)} ev/s (batch endpoint, the same reports)", f"{ratio:.2f}x")
    row.notes += [
        f"median of {len(imports)} imports ({', '.join(_n(i[0]) for i in imports)} rows/s) "
        f"over the median of {len(batches)} batch runs "
        f"({', '.join(_n(b[0]) for b in batches)} ev/s), in turns, each on a fresh stream",
        f"{len(raws):,} rows, {len(body) / 1e6:.1f} MB, one request, answered in "
        f"{seconds:.1f} s; the batch runs: {min(s.batch_size, max_batch())}-report batches "
        f"on {s.batch_concurrency} connections",
        f"CPU (share of one core): {cpu}; batch: {base_cpu}"]
    bench.rows["import-csv"] = bench.judge(row, Target(">= 0.5 x batch endpoint",
                                                       lambda: ratio >= 0.5))


async def import_xlsx_rss(bench: Bench) -> None:
    """The ingest's peak RSS while importing a big XLSX, against its RSS before."""
    from .figures import FIGURES, Row, Target, _n

    s = bench.sizes
    raws = reports(s.import_xlsx_rows, seed=303)
    rows = len(raws)
    path = bench.workdir / "import-xlsx" / "reports.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    bench.log(f"import-xlsx-rss: writing {len(raws):,} rows with openpyxl")
    write_xlsx(raws, path)
    del raws
    size = path.stat().st_size
    with bench._nats("import-xlsx") as server, \
            bench._ingest(server.url, "import-xlsx") as ingest:
        assert ingest.pid is not None
        await _post(ingest.port, csv_of(reports(10, seed=304)), "text/csv")
        before = status_kib(ingest.pid, "VmRSS")
        bench.log(f"import-xlsx-rss: importing {size / 1e6:.1f} MB (ingest RSS "
                  f"{before / 1024:.0f} MiB)")
        seconds, answer = await _post(ingest.port, path, XLSX)
        peak = status_kib(ingest.pid, "VmHWM")
    peak_mb = peak * 1024 / 1e6
    counts = answer["counts"]
    row = Row("import-xlsx-rss", FIGURES["import-xlsx-rss"], f"{peak_mb:.0f} MB",
              f"{before * 1024 / 1e6:.0f} MB (ingest RSS before the import)",
              f"+{(peak - before) * 1024 / 1e6:.0f} MB")
    row.notes += [f"{counts['rows']:,} rows ({size / 1e6:.1f} MB XLSX written by openpyxl) "
                  f"in {seconds:.1f} s ({_n(counts['rows'] / seconds)} rows/s): "
                  f"{counts['accepted']:,} accepted",
                  "peak: VmHWM of the ingest process (its whole life)"]
    bench.rows["import-xlsx-rss"] = bench.judge(row, Target(
        "< 300 MB, every row accepted", lambda: xlsx_passed(peak_mb, counts, rows)))


def xlsx_passed(peak_mb: float, counts: dict[str, int], rows: int) -> bool:
    """The peak within target, on an import that took every row (one that rejected them
    all would hold little)."""
    return peak_mb < 300 and counts["rows"] == counts["accepted"] == rows
