"""`python -m benchmarks --quick` runs the real processes end to end and prints every row.

No timing is asserted: this machine's speed is not the test's business (`make bench` judges
the figures). PostgreSQL's row says "skipped" where PostgreSQL is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.figures import FIGURES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
"""The benchmarks run from here: ``benchmarks`` is a top-level package, not installed."""


def test_quick_bench_runs_and_prints_every_row(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(report),
         "--workdir", str(tmp_path / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    for key in FIGURES:
        rows = [line for line in table if f"(`{key}`)" in line]
        assert len(rows) == 1, f"no row for {key} in:\n{done.stdout}"
        cells = [c.strip() for c in rows[0].strip("|").split("|")]
        assert cells[1], f"{key}: nothing measured: {rows[0]}"
        assert cells[-1] in {"— (quick)", "skipped"}, rows[0]
    speed = [line for line in table if line.startswith("| machine speed")]
    assert len(speed) == 1 and speed[0].rstrip().endswith("| info |"), done.stdout
    assert float(speed[0].split("|")[4].strip().removesuffix("x")) > 0, speed[0]
    written = report.read_text()
    assert "**Machine**: cores:" in written and "nats-server" in written
    assert all(f"(`{key}`)" in written for key in FIGURES)


def test_only_runs_the_named_figure() -> None:
    kept = REPO / "docs" / "benchmarks.md"
    before = kept.stat().st_mtime_ns if kept.exists() else None
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "ingest-batch"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-6000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [line for line in table if "(`" in line] == [
        line for line in table if "(`ingest-batch`)" in line]
    assert (kept.stat().st_mtime_ns if kept.exists() else None) == before, \
        "a partial or quick run must not rewrite docs/benchmarks.md"


def test_store_micro_bench_applies_every_event(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.apply", "--events", "2500", "--batch", "1000",
         "--cache", str(tmp_path / "events.pickle")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[0] == "2,500", done.stdout  # one report at the last batch
    assert lines[-1].startswith("2,500 events in "), done.stdout
    assert lines[-1].endswith("position 2,500"), done.stdout
    assert (tmp_path / "events.pickle").exists()


def test_ingest_cpu_bench_times_every_step() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest_cpu", "--reports", "600", "--batch", "200",
         "--rounds", "1", "--publish"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    steps, publish = done.stdout.splitlines()
    assert steps.startswith("parse ") and " · total " in steps, done.stdout
    assert steps.endswith("(v1, batches of 200, best of 1)"), done.stdout
    assert publish.startswith("publish with the journal's headers: nats-py publish "), publish
    assert " · framed " in publish, publish
