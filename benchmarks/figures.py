"""The figures: each runs the real services (or the raw baseline) on fresh state and
returns a row of the table."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from tests.factories import stack_config
from tests.kits.postgres import PostgresCluster

from cungdan.processes import LOCALHOST, NatsServer, ServiceProcess, free_port
from cungdan.stack import Stack
from cungdan_contracts import AdminMap, Level, load_gazetteer

from . import imports, natsload
from .events import Event, event_chunks, events_for, max_batch, reports
from .httpload import Connection, LoadResult, Request, closed_loop, open_loop, percentile
from .machine import CpuMeter, tree_peak_kib, tree_rss_kib
from .naive import run_naive, sqlite_engine
from .polling import Poller, read_position, to_json
from .profiling import Profiler

FIGURES: dict[str, str] = {
    "ingest-batch": "ingest batch endpoint, accepted events/s",
    "ingest-batch-headers": "ingest batch endpoint against the journal's own publishing",
    "ingest-single": "ingest single-report POST, requests/s and p99",
    "at-scale": "ingest batch endpoint into the big stream, against an empty one",
    "at-scale-single": "ingest single-report POST p99 on the big stream, against an empty one",
    "upgrade": "ingest started on a big stream of subject layout 1 (before the upgrade)",
    "projector-sqlite": "projector, events/s stream -> committed totals, SQLite",
    "projector-postgres": "projector, events/s stream -> committed totals, PostgreSQL",
    "projector-naive": "projector vs naive one-transaction-per-event handler",
    "rebuild": "rebuild of the big stream, SQLite",
    "freshness": "freshness at a steady rate: 202 -> visible in totals, p99",
    "soak": "soak at a steady rate through ingest: RSS growth, freshness p99 per window, lost",
    "totals-get": "GET /v1/totals/<province> with children, big stream applied, p99",
    "rss": "projector peak RSS during the rebuild",
    "import-csv": "ingest POST /v1/imports of a CSV, rows/s against the batch endpoint",
    "import-xlsx-rss": "ingest peak RSS importing a big XLSX",
    "ui": "GET /ui/<2025 province> (the committee page), big stream applied, p95",
}
"""``--only`` names, in table order."""

NEEDS: dict[str, set[str]] = {
    "ingest-batch-headers": {"ingest-batch"},
    "at-scale-single": {"at-scale"},
    "projector-naive": {"projector-sqlite"},
    "totals-get": {"rebuild"},
    "rss": {"rebuild"},
    "ui": {"rebuild"},
}
NO_AUTH = {"CUNGDAN_AUTH_ENABLED": "false", "CUNGDAN_READS_PUBLIC": "true"}
"""The bench measures the data path; tokens (and their per-token rate limit) are off."""
_T = TypeVar("_T")

PLANNING_READ_RATE = 48_000.0
"""Events/s of a raw ordered push read on the machine the targets were set on (issue 7's
planning measurement: 2 cores, nats-server 2.15.1, nats-py 2.16; the recorded full runs of
2026-11-22 read 48-49k). The absolute targets (requests/s, milliseconds) hold for a machine
of that speed; the ratio of this run's raw read to it tells how this one compares. The
rebuild is judged against its own raw read in the same run, not in seconds."""
SLOW_MACHINE = 0.8
"""Below this fraction of :data:`PLANNING_READ_RATE`, the report warns that absolute
figures are not comparable with their targets."""
STREAM_GROUP = {"projector-sqlite", "projector-postgres", "projector-naive", "rebuild",
                "totals-get", "rss", "at-scale"}


@dataclass(frozen=True)
class Sizes:
    batch_events: int = 40_000
    batch_size: int = 500
    batch_concurrency: int = 4
    ingest_rounds: int = 3
    """Runs of the batch endpoint (and of its baseline), in turns; the median counts."""
    single_requests: int = 10_000
    single_concurrency: int = 16
    single_rate: float = 1_500.0
    single_open_seconds: float = 8.0
    big_stream: int = 1_000_000
    projector_events: int = 50_000
    naive_events: int = 5_000
    freshness_rate: float = 1_000.0
    freshness_seconds: float = 15.0
    freshness_poll_seconds: float = 0.005
    soak_rate: float = 1_000.0
    soak_seconds: float = 600.0
    """How long the soak drives ingest (``--set soak_seconds=20`` for a short one)."""
    soak_window_seconds: float = 60.0
    """RSS is sampled and freshness judged per window."""
    soak_warmup_seconds: float = 180.0
    """RSS growth is judged from the end of the window this ends: the writer's SQLite page
    cache (32 MiB) fills in the first ~3 minutes at 1,000 events/s."""
    totals_requests: int = 2_000
    totals_seconds: float = 45.0
    upgrade_stream: int = 1_000_000
    """Events stored in subject layout 1 for the upgrade figure."""
    upgrade_resend: int = 2_000
    """Reports of that stream sent again (each must be answered duplicate)."""
    rebuild_deadline: float = 300.0
    projector_deadline: float = 60.0
    projector_rounds: int = 3
    """Runs of each projector figure (and of its baseline), in turns; the median counts."""
    import_rows: int = 20_000
    """Rows of the CSV of the import figure (and reports of its batch baseline)."""
    import_xlsx_rows: int = 100_000
    """Rows of the XLSX of the import RSS figure."""
    stream_events: int = 0
    """Events preloaded for the projector figures; 0: the big stream when the rebuild runs,
    else just enough for the figures asked for."""


FULL = Sizes()
QUICK = Sizes(
    batch_events=2_000, batch_size=200, single_requests=400, single_rate=300.0,
    single_open_seconds=1.0, big_stream=5_000, projector_events=3_000, naive_events=500,
    freshness_rate=200.0, freshness_seconds=2.0, totals_requests=100, upgrade_stream=5_000,
    upgrade_resend=200, import_rows=2_000, import_xlsx_rows=5_000,
    soak_rate=200.0, soak_seconds=20.0, soak_window_seconds=5.0, soak_warmup_seconds=5.0,
    rebuild_deadline=60.0, projector_deadline=60.0, projector_rounds=1, ingest_rounds=1)


@dataclass
class Row:
    key: str
    figure: str
    measured: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    verdict: str = "—"
    notes: list[str] = field(default_factory=list)


@dataclass
class Target:
    text: str
    check: Callable[[], bool]


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _statuses(result: LoadResult) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items())) + (
        f", connection errors: {result.errors}" if result.errors else "")


@dataclass
class ProjectionRun:
    rate: float
    first_position: int
    last_position: int
    measured_seconds: float
    since_healthy_seconds: float
    startup_seconds: float
    reached: bool
    cpu: str
    peak_rss_kib: list[int]
    """``VmHWM`` of the projector process, then of each process it started (its writer)."""
    peak_together_kib: int
    """The most RSS the projector's processes held together, sampled at each poll."""
    poll_seconds: float
    process: ServiceProcess
    slow_consumer_errors: int = 0
    """Lines of the projector's log reporting nats-py slow-consumer drops."""
    index_seconds: float = 0.0
    """After the target position: until the indexes deferred while catching up existed."""


class Bench:
    def __init__(self, *, sizes: Sizes, quick: bool, only: set[str], workdir: Path,
                 profiler: Profiler, log: Callable[[str], None]) -> None:
        self.sizes = sizes
        self.quick = quick
        self.requested = only or set(FIGURES)
        self.runs = set(self.requested)
        for name in self.requested:
            self.runs |= NEEDS.get(name, set())
        self.workdir = workdir
        self.profiler = profiler
        self.log = log
        self.rows: dict[str, Row] = {}
        self.info: list[Row] = []
        self.warnings: list[str] = []
        self._ingest_empty_rate: float | None = None
        gazetteer = load_gazetteer()
        province = gazetteer.children(AdminMap.Y2025, "VN")[0].code
        commune = next(c for c in gazetteer.children(AdminMap.Y2025, province)
                       if c.level is Level.COMMUNE)
        # A locality with no children: reading the position through it costs the projector
        # one tiny indexed query, so polling does not load the process it measures.
        self.position_path = f"/v1/totals/{commune.code}?map=2025"

    # ---------------------------------------------------------------- plumbing

    def judge(self, row: Row, target: Target | None) -> Row:
        """Set the row's target and verdict; ``None``: a figure shown for what it says, with
        no target of its own (``info``)."""
        row.target = target.text if target else "—"
        row.verdict = ("— (quick)" if self.quick else "info" if target is None
                       else "pass" if target.check() else "miss")
        return row

    def _nats(self, name: str) -> NatsServer:
        return NatsServer(self.workdir / name / "nats", log_dir=self.workdir / name)

    def _service(self, module: str, name: str, env: dict[str, str]) -> ServiceProcess:
        port = free_port()
        kind = "INGEST" if module == "cungdan_ingest" else "PROJECTOR"
        return ServiceProcess(
            [sys.executable, "-m", module], port=port,
            log_file=self.workdir / name / f"{module}.log",
            env={**env, **NO_AUTH, f"CUNGDAN_{kind}_HOST": LOCALHOST,
                 f"CUNGDAN_{kind}_PORT": str(port)},
            start_timeout=60.0)

    def _ingest(self, nats_url: str, name: str) -> ServiceProcess:
        return self._service("cungdan_ingest", name, {"CUNGDAN_NATS_URL": nats_url})

    def _projector(self, nats_url: str, database_url: str, name: str) -> ServiceProcess:
        return self._service("cungdan_projector", name, {
            "CUNGDAN_NATS_URL": nats_url, "CUNGDAN_DATABASE_URL": database_url})

    def _sqlite_url(self, name: str) -> str:
        path = self.workdir / name / "readmodel.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    async def run(self) -> list[Row]:
        await self._check_headers()
        if "ingest-batch" in self.runs:
            await self.ingest_batch()
        if "ingest-single" in self.runs:
            await self.ingest_single()
        if "freshness" in self.runs:
            await self.freshness()
        if "soak" in self.runs:
            await self.soak()
        if self.runs & STREAM_GROUP:
            await self.stream_group()
        if "upgrade" in self.runs:
            await self.upgrade()
        if "import-csv" in self.runs:
            await imports.import_csv(self)
        if "import-xlsx-rss" in self.runs:
            await imports.import_xlsx_rss(self)
        return [self.rows[k] for k in FIGURES if k in self.rows and k in self.requested]

    async def _check_headers(self) -> None:
        """The raw baselines must send what ingest's journal sends: check on a probe event."""
        self.log("checking the bench's publish headers against ingest's journal")
        with self._nats("journal-check") as server:
            problem = await natsload.check_journal_headers(
                server.url, events_for(reports(1, seed=999))[0])
        if problem is not None:
            self.log(f"WARNING: {problem}")
            self.warnings.append(f"baseline headers differ from the journal's: {problem}")

    # ---------------------------------------------------------------- ingest

    async def ingest_batch(self) -> None:
        """The batch endpoint and its two raw-publish baselines, in turns ``ingest_rounds``
        times (plain ``publish_async``, journal-style, ingest; ...), each on a fresh server:
        one run lasts seconds, and single samples of the same code gave 0.53x to 0.80x. Each
        row shows the median run over the median baseline, and every sample."""
        s = self.sizes
        size = min(s.batch_size, max_batch())
        raws = reports(s.batch_events, seed=101)
        warm = reports(size, seed=102)
        events = events_for(raws, dt.datetime.now(dt.UTC))
        bodies = _batches(raws, size)
        plains: list[tuple[float, str]] = []
        bases: list[tuple[float, str]] = []
        runs: list[tuple[float, int, LoadResult, str]] = []
        for turn in range(1, s.ingest_rounds + 1):
            self.log(f"ingest-batch: plain publish_async of {len(events):,} events into a "
                     f"fresh stream (turn {turn})")
            with self._nats(f"ingest-batch-plain-{turn}") as server:
                assert server.pid is not None
                meter = CpuMeter({"bench (publisher)": os.getpid(), "nats-server": server.pid})
                plain = await natsload.publish_async_plain(server.url, events)
                plains.append((plain.rate, meter.describe()))
            self.log(f"ingest-batch: plain {_n(plain.rate)} ev/s; journal-style pipelined "
                     f"publish (turn {turn})")
            with self._nats(f"ingest-batch-baseline-{turn}") as server:
                assert server.pid is not None
                meter = CpuMeter({"bench (publisher)": os.getpid(), "nats-server": server.pid})
                base = await natsload.publish_pipelined(server.url, events)
                bases.append((base.rate, meter.describe()))
            self.log(f"ingest-batch: journal-style {_n(base.rate)} ev/s; {len(bodies)} batches "
                     f"of {size} to ingest, {s.batch_concurrency} connections (turn {turn})")
            runs.append(await self._ingest_batch_run(f"ingest-batch-{turn}", bodies, warm))
            self.log(f"ingest-batch: {_n(runs[-1][0])} ev/s")
        plain_rate, plain_cpu = _median(plains, lambda base: base[0])
        base_rate, base_cpu = _median(bases, lambda base: base[0])
        rate, accepted, result, cpu = _median(runs, lambda run: run[0])
        self._ingest_empty_rate = rate
        ratio, headers_ratio = rate / plain_rate, rate / base_rate
        samples = (f"median of {len(runs)} runs ({', '.join(_n(r[0]) for r in runs)} ev/s) over "
                   "the median of {} baselines ({} ev/s), in turns; the median run's details "
                   "follow")
        details = [
            f"{accepted:,} of {len(raws):,} accepted in {result.seconds:.1f} s; HTTP "
            f"{_statuses(result)}; batches of {size}, {s.batch_concurrency} connections",
            "every run starts on an empty stream; the at-scale rows run on the big stream",
        ]
        row = Row("ingest-batch", FIGURES["ingest-batch"], f"{_n(rate)} ev/s",
                  f"{_n(plain_rate)} ev/s (plain nats-py publish_async, no headers)",
                  f"{ratio:.2f}x")
        if len(runs) > 1:
            row.notes.append(samples.format(len(plains), ", ".join(_n(b) for b, _ in plains)))
        row.notes += [*details, f"CPU (share of one core): {cpu}; baseline: {plain_cpu}",
                      "baseline: the same subjects and payloads with nats-py's publish_async "
                      f"({natsload.IN_FLIGHT:,} pending at most), no header at all: no id "
                      "check, no Nats-Msg-Id"]
        self.rows["ingest-batch"] = self.judge(row, Target(">= 0.5 x baseline",
                                                           lambda: ratio >= 0.5))
        row = Row("ingest-batch-headers", FIGURES["ingest-batch-headers"], f"{_n(rate)} ev/s",
                  f"{_n(base_rate)} ev/s (raw nats-py, journal pipelining and headers)",
                  f"{headers_ratio:.2f}x")
        if len(runs) > 1:
            row.notes.append(samples.format(len(bases), ", ".join(_n(b) for b, _ in bases)))
        row.notes += [f"the ingest runs of the ingest-batch row; baseline CPU: {base_cpu}",
                      "baseline: the same events with the journal's headers (its id check, "
                      "Nats-Msg-Id) and its pipelining, without HTTP, validation or encoding: "
                      "what the broker takes of ingest's work. Its target was >= 0.7x while "
                      "the id check cost the server more than ingest's own work; it is the "
                      "ingest-batch row's now"]
        self.rows["ingest-batch-headers"] = self.judge(row, None)
        self.log(f"ingest-batch: {_n(rate)} ev/s ({ratio:.2f}x plain, {headers_ratio:.2f}x "
                 "journal-style)")

    async def _ingest_batch_run(self, name: str, bodies: Sequence[Request],
                                warm: list[dict[str, Any]], server: NatsServer | None = None
                                ) -> tuple[float, int, LoadResult, str]:
        """One run of the batch endpoint, on a fresh server unless ``server`` is given and on
        a fresh ingest: (accepted events/s, accepted, the load's result, CPU)."""
        answers: list[bytes] = []

        def keep(_i: int, _r: Request, response: Any, _t: float) -> None:
            answers.append(response.body)

        with contextlib.ExitStack() as stack:
            if server is None:
                server = stack.enter_context(self._nats(name))
            ingest = stack.enter_context(self._ingest(server.url, name))
            assert server.pid is not None and ingest.pid is not None
            await closed_loop(LOCALHOST, ingest.port,
                              [Request("POST", "/v1/activities/batch", to_json(warm))], 1)
            meter = CpuMeter({"ingest": ingest.pid, "nats-server": server.pid})
            with self.profiler.attach(name, ingest.pid):
                result = await closed_loop(LOCALHOST, ingest.port, bodies,
                                           self.sizes.batch_concurrency, on_response=keep)
            cpu = meter.describe()
        accepted = sum(json.loads(a).get("counts", {}).get("accepted", 0) for a in answers)
        return accepted / result.seconds, accepted, result, cpu

    async def _open_loop_run(self, name: str, reqs: Sequence[Request],
                             server: NatsServer | None = None
                             ) -> tuple[float, float, LoadResult, str]:
        """Single-report POSTs at ``single_rate``/s, open loop, on a fresh server unless
        ``server`` is given and on a fresh ingest: (p50, p99 seconds, the result, CPU)."""
        warm = [Request("POST", "/v1/activities", to_json(r))
                for r in reports(200, seed=hash(name) % 10_000 + 20_000)]
        with contextlib.ExitStack() as stack:
            if server is None:
                server = stack.enter_context(self._nats(name))
            ingest = stack.enter_context(self._ingest(server.url, name))
            assert server.pid is not None and ingest.pid is not None
            await closed_loop(LOCALHOST, ingest.port, warm, 4)
            meter = CpuMeter({"ingest": ingest.pid, "nats-server": server.pid})
            result = await open_loop(LOCALHOST, ingest.port, reqs, self.sizes.single_rate)
            cpu = meter.describe()
        return (percentile(result.latencies, 0.50), percentile(result.latencies, 0.99), result,
                cpu)

    async def ingest_single(self) -> None:
        s = self.sizes
        closed_reqs = [Request("POST", "/v1/activities", to_json(r))
                       for r in reports(s.single_requests, seed=201)]
        open_reqs = [Request("POST", "/v1/activities", to_json(r))
                     for r in reports(int(s.single_rate * s.single_open_seconds), seed=202)]
        warm = [Request("POST", "/v1/activities", to_json(r)) for r in reports(200, seed=203)]
        self.log(f"ingest-single: {len(closed_reqs):,} POSTs closed loop "
                 f"({s.single_concurrency} connections), then {s.single_rate:,.0f}/s open loop "
                 f"for {s.single_open_seconds:.0f} s")
        with self._nats("ingest-single") as server, \
                self._ingest(server.url, "ingest-single") as ingest:
            assert server.pid is not None and ingest.pid is not None
            await closed_loop(LOCALHOST, ingest.port, warm, 4)
            meter = CpuMeter({"ingest": ingest.pid, "nats-server": server.pid})
            with self.profiler.attach("ingest-single", ingest.pid):
                closed = await closed_loop(LOCALHOST, ingest.port, closed_reqs,
                                           s.single_concurrency)
            closed_cpu = meter.describe()
            meter = CpuMeter({"ingest": ingest.pid, "nats-server": server.pid})
            opened = await open_loop(LOCALHOST, ingest.port, open_reqs, s.single_rate)
            open_cpu = meter.describe()
        p99_closed = percentile(closed.latencies, 0.99)
        p50_open = percentile(opened.latencies, 0.50)
        p99_open = percentile(opened.latencies, 0.99)
        all_accepted = (closed.statuses.get(202, 0) == len(closed_reqs)
                        and opened.statuses.get(202, 0) == len(open_reqs))
        row = Row("ingest-single", FIGURES["ingest-single"],
                  f"{_n(closed.rate)} req/s; p99 {_ms(p99_open)} at "
                  f"{s.single_rate:,.0f}/s offered")
        row.notes += [
            f"throughput: closed loop, {s.single_concurrency} connections, "
            f"{len(closed_reqs):,} requests, p99 {_ms(p99_closed)} at that load; HTTP "
            f"{_statuses(closed)}; CPU {closed_cpu}",
            f"latency: open loop at {s.single_rate:,.0f}/s for {s.single_open_seconds:.0f} s "
            f"(timed from each request's scheduled start), p50 {_ms(p50_open)}, "
            f"p99 {_ms(p99_open)}; HTTP {_statuses(opened)}; CPU {open_cpu}",
        ]
        self.rows["ingest-single"] = self.judge(row, Target(
            ">= 1,500/s, p99 <= 20 ms",
            lambda: closed.rate >= 1500 and p99_open <= 0.020 and all_accepted))
        self.log(f"ingest-single: {_n(closed.rate)} req/s, p99 {_ms(p99_open)} open loop")

    # ---------------------------------------------------------------- freshness

    async def freshness(self) -> None:
        s = self.sizes
        data = self.workdir / "freshness"
        config = stack_config(data, extra_env=dict(NO_AUTH))
        count = int(s.freshness_rate * s.freshness_seconds)
        reqs = [Request("POST", "/v1/activities", to_json(r)) for r in reports(count, seed=401)]
        warm = [Request("POST", "/v1/activities", to_json(r)) for r in reports(200, seed=402)]
        accepted: list[tuple[int, float]] = []

        def on_202(_i: int, _r: Request, response: Any, at: float) -> None:
            if response.status == 202:
                accepted.append((int(json.loads(response.body)["seq"]), at))

        self.log(f"freshness: {count:,} single POSTs at {s.freshness_rate:,.0f}/s, polling "
                 f"the projector every {s.freshness_poll_seconds * 1000:.0f} ms")
        with Stack(config) as stack:
            assert stack.ingest.pid and stack.projector.pid and stack.nats.pid
            ingest_port, projector_port = config.ingest_port, config.projector_port
            await closed_loop(LOCALHOST, ingest_port, warm, 4)
            poller = Poller(LOCALHOST, projector_port, self.position_path,
                            s.freshness_poll_seconds)
            poller.start()
            meter = CpuMeter({"ingest": stack.ingest.pid, "projector": stack.projector.pid,
                              "nats-server": stack.nats.pid})
            with self.profiler.attach("freshness-projector", stack.projector.pid):
                result = await open_loop(LOCALHOST, ingest_port, reqs, s.freshness_rate,
                                         on_response=on_202)
            cpu = meter.describe()
            await poller.wait_for(max((seq for seq, _ in accepted), default=0), 30)
            await poller.stop()
        lags = poller.polls.lags(accepted)
        p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
        interval = poller.polls.interval()
        unseen = len(accepted) - len(lags)
        row = Row("freshness", FIGURES["freshness"].replace(
            "a steady rate", f"a steady {s.freshness_rate:,.0f} events/s"), f"{_ms(p99)}")
        row.notes += [
            f"{len(accepted):,} accepted of {count:,} POSTs (HTTP {_statuses(result)}); "
            f"p50 {_ms(p50)}, p99 {_ms(p99)}, max {_ms(max(lags, default=float('nan')))}"
            + (f"; {unseen} never seen within 30 s" if unseen else ""),
            f"visible = first poll answered after the 202 whose position covers its seq; "
            f"polls every {interval * 1000:.1f} ms on average (adds up to that much)",
            f"CPU {cpu}; SQLite read model",
        ]
        self.rows["freshness"] = self.judge(row, Target(
            "<= 250 ms", lambda: p99 <= 0.250 and unseen == 0 and len(accepted) == count))
        self.log(f"freshness: p99 {_ms(p99)}")

    async def soak(self) -> None:
        """Minutes at a steady rate through ingest (see :mod:`.soak`)."""
        from .soak import FRESHNESS_P99_MAX, RSS_GROWTH_MAX, describe, run_soak

        s = self.sizes
        result = await run_soak(
            workdir=self.workdir, rate=s.soak_rate, seconds=s.soak_seconds,
            window_seconds=s.soak_window_seconds, warmup_seconds=s.soak_warmup_seconds,
            poll_seconds=s.freshness_poll_seconds,
            env=NO_AUTH, position_path=self.position_path, log=self.log)
        measured, notes = describe(result)
        row = Row("soak", FIGURES["soak"].replace(
            "a steady rate", f"{s.soak_rate:,.0f} events/s for " + (
                f"{s.soak_seconds / 60:.0f} min" if s.soak_seconds >= 60
                else f"{s.soak_seconds:.0f} s")),
            measured, notes=notes)
        self.rows["soak"] = self.judge(row, Target(
            f"RSS growth < {RSS_GROWTH_MAX:.0%} per process, p99 <= "
            f"{FRESHNESS_P99_MAX * 1000:.0f} ms every window, 0 lost, doubled or "
            "unaccounted", result.passed))
        self.log(f"soak: {measured}")

    # ---------------------------------------------------------------- the big stream

    async def stream_group(self) -> None:
        s = self.sizes
        with self._nats("stream") as server, contextlib.ExitStack() as cleanup:
            assert server.pid is not None
            size = s.stream_events or (
                s.big_stream if self.runs & {"rebuild", "at-scale"} else min(
                    s.big_stream, max(s.projector_events, s.naive_events) + 2 * 5_000))
            pub, gen_seconds = await self._preload(server.url, size)
            self.info.append(Row(
                "preload", f"preload: {size:,} events published with nats-py",
                f"{_n(pub.rate)} ev/s", notes=[
                    f"generation + publish {gen_seconds:.1f} s (2 generator processes); "
                    "the journal's own headers and pipelining (its id check included)"]))
            upto = min(s.projector_events, s.big_stream)
            sqlite_rate = await self._projector_rounds(server, upto)
            if "projector-naive" in self.runs and sqlite_rate is not None:
                await self._naive(server, sqlite_rate)
            if "rebuild" in self.runs:
                self.log(f"raw ordered-consumer read of sequences 1..{s.big_stream:,} "
                         "(the rebuild's baseline)")
                read = await natsload.read_ordered(server.url, s.big_stream)
                self.log(f"raw read {_n(read.rate)} ev/s")
                run = await self._project("rebuild", server, self._sqlite_url("rebuild"),
                                          s.big_stream, s.rebuild_deadline, poll_every=0.2)
                cleanup.callback(run.process.stop)
                if run.reached:
                    await self._deferred_indexes(run, self.workdir / "rebuild")
                self._rebuild_rows(run, read.rate)
                if "totals-get" in self.runs:
                    await self._totals_get(run)
                if "ui" in self.runs:
                    await self._ui(run)
                run.process.stop()
            if "at-scale" in self.runs:
                await self._at_scale(server)

    async def _preload(self, url: str, total: int) -> tuple[natsload.PublishResult, float]:
        self.log(f"preload: generating and publishing {total:,} events")
        started = time.perf_counter()
        chunks = event_chunks(total, seed=7)
        async with natsload.connect(url) as nc:
            await natsload.create_stream(nc)
            publisher = natsload.PipelinedPublisher(nc)
            await publisher.start()
            publish_seconds = 0.0
            upcoming = asyncio.create_task(asyncio.to_thread(_next_or_none, chunks))
            while (chunk := await upcoming) is not None:
                upcoming = asyncio.create_task(asyncio.to_thread(_next_or_none, chunks))
                t0 = time.perf_counter()
                await publisher.publish(chunk)
                publish_seconds += time.perf_counter() - t0
                if publisher.stored and publisher.stored % 200_000 < len(chunk):
                    self.log(f"preload: {publisher.stored:,} stored")
            await publisher.wait()
            if publisher.failed:
                raise RuntimeError(f"preload: {publisher.failed} refused: "
                                   f"{publisher.first_error}")
            last = await natsload.last_seq(nc)
        seconds = time.perf_counter() - started
        if last != total:
            raise RuntimeError(f"preload: stream holds {last} events, expected {total}")
        self.log(f"preload: {total:,} events in {seconds:.1f} s")
        return natsload.PublishResult(publisher.stored, 0, seconds, last), seconds

    async def _project(self, name: str, server: NatsServer, database_url: str, upto: int,
                       deadline: float, poll_every: float = 0.05) -> ProjectionRun:
        """Start a projector on a fresh database; watch its position until ``upto``."""
        self.log(f"{name}: projector from an empty database to sequence {upto:,}")
        process = self._projector(server.url, database_url, name)
        launched = time.perf_counter()
        process.start()
        healthy = time.perf_counter()
        assert process.pid is not None and server.pid is not None
        meter = CpuMeter({"projector": process.pid, "nats-server": server.pid})
        conn = Connection(LOCALHOST, process.port)
        first: tuple[float, int] | None = None
        last: tuple[float, int] = (healthy, 0)
        together = 0
        with self.profiler.attach(name, process.pid):
            while True:
                position = await read_position(conn, self.position_path)
                together = max(together, tree_rss_kib(process.pid))
                now = time.perf_counter()
                last = (now, position)
                if first is None and position > 0:
                    first = last
                if position >= upto or now - healthy > deadline:
                    break
                await asyncio.sleep(poll_every)
        peak = tree_peak_kib(process.pid)
        cpu = meter.describe()
        await conn.close()
        start = first or (healthy, 0)
        span = last[0] - start[0]
        rate = (last[1] - start[1]) / span if span > 0 else 0.0
        self.log(f"{name}: position {last[1]:,} after {last[0] - healthy:.1f} s, "
                 f"{_n(rate)} ev/s")
        return ProjectionRun(rate, start[1], last[1], span, last[0] - healthy,
                             healthy - launched, last[1] >= upto, cpu, peak, together, poll_every,
                             process,
                             _count_lines(process.log_file, "slow consumer"))

    async def _projector_rounds(self, server: NatsServer, upto: int) -> float | None:
        """The projector figures and the raw read they are compared with, in turns (read,
        SQLite, PostgreSQL; read, SQLite, ...) ``projector_rounds`` times, each projector on
        a fresh database. One run is a few seconds: a single sample on a noisy machine (the
        same code gave 0.40x and 0.54x). Each row shows the median of its runs over the
        median read, and every sample. Returns the SQLite median, if measured."""
        keys = [k for k in ("projector-sqlite", "projector-postgres") if k in self.runs]
        if not keys:
            return None
        reads: list[float] = []
        runs: dict[str, list[ProjectionRun]] = {key: [] for key in keys}
        with contextlib.ExitStack() as cleanup:
            cluster: PostgresCluster | None = None
            if "projector-postgres" in runs:
                if PostgresCluster.available():
                    self.log("projector-postgres: starting a throwaway PostgreSQL cluster")
                    cluster = cleanup.enter_context(PostgresCluster())
                else:
                    del runs["projector-postgres"]
                    self.rows["projector-postgres"] = Row(
                        "projector-postgres", FIGURES["projector-postgres"], "skipped",
                        verdict="skipped", notes=[
                            "PostgreSQL binaries (initdb, pg_ctl, postgres) not found; "
                            ".ci/run installs Debian's postgresql"])
            for turn in range(1, self.sizes.projector_rounds + 1):
                self.log(f"raw ordered-consumer read of sequences 1..{upto:,} "
                         f"(turn {turn})")
                reads.append((await natsload.read_ordered(server.url, upto)).rate)
                self.log(f"raw read {_n(reads[-1])} ev/s")
                for key, done in runs.items():
                    name = key if turn == 1 else f"{key}-{turn}"
                    if key == "projector-sqlite":
                        url = self._sqlite_url(name)
                    else:
                        assert cluster is not None
                        url = self._postgres_database(cluster, f"bench{turn}")
                    run = await self._project(name, server, url, upto,
                                              self.sizes.projector_deadline)
                    run.process.stop()
                    done.append(run)
        read_rate = statistics.median(reads)
        self._machine_speed(reads, read_rate)
        for key, done in runs.items():
            self.rows[key] = self._projector_row(
                key, done, reads, read_rate, upto, 0.5 if key == "projector-sqlite" else 0.3)
        return _median_run(runs["projector-sqlite"]).rate if "projector-sqlite" in runs else None

    def _machine_speed(self, reads: Sequence[float], read_rate: float) -> None:
        """How fast this machine is next to the one the targets were set on (an info row),
        judged by the raw read: Python and nats-server work, no database."""
        speed = read_rate / PLANNING_READ_RATE
        self.info.append(Row(
            "machine-speed", "machine speed: raw ordered read against the planning machine",
            f"{_n(read_rate)} ev/s",
            f"{_n(PLANNING_READ_RATE)} ev/s (the machine the targets were set on)",
            f"{speed:.2f}x", notes=[
                f"median of {len(reads)} raw reads ({', '.join(_n(r) for r in reads)} ev/s). "
                "Ratios to same-run baselines (the rebuild's among them: against this "
                "run's raw read) compare across machines; absolute figures (requests/s, "
                "p99s) hold their targets on a machine of the planning machine's speed"]))
        if speed < SLOW_MACHINE and not self.quick:
            self.warnings.append(
                f"this machine read the stream at {speed:.2f}x the speed of the machine the "
                "targets were set on (see the machine-speed row): its absolute figures "
                "(requests/s, p99s) are not comparable with their targets; its ratios "
                "(the rebuild's among them) are")

    @staticmethod
    def _postgres_database(cluster: PostgresCluster, name: str) -> str:
        with psycopg.connect(cluster.conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cluster.dsn.rsplit("/", 1)[0] + f"/{name}"

    def _projector_row(self, key: str, runs: list[ProjectionRun], reads: list[float],
                       read_rate: float, upto: int, factor: float) -> Row:
        run = _median_run(runs)
        ratio = run.rate / read_rate if read_rate else 0.0
        rounds = len(runs)
        row = Row(key, FIGURES[key], f"{_n(run.rate)} ev/s",
                  f"{_n(read_rate)} ev/s (raw ordered consumer, same {upto:,} events)",
                  f"{ratio:.2f}x")
        if rounds > 1:
            row.notes.append(
                f"median of {rounds} runs ({', '.join(_n(r.rate) for r in runs)} ev/s: "
                f"{', '.join(f'{r.rate / read_rate:.2f}x' for r in runs)}) over the median of "
                f"{len(reads)} raw reads ({', '.join(_n(r) for r in reads)} ev/s), in turns; "
                "the median run's details follow")
        row.notes += [
            f"timed from the first position change ({run.first_position:,}) to "
            f"{run.last_position:,}: {run.measured_seconds:.1f} s; "
            f"{run.since_healthy_seconds:.1f} s from /healthz, process start "
            f"{run.startup_seconds:.1f} s"
            + ("" if run.reached else f"; stopped at the {self.sizes.projector_deadline:.0f} s "
                                      "cap (the rate is over the events applied by then)"),
            f"CPU {run.cpu}; peak RSS {_peak(run)}"
            + _slow(run),
        ]
        if key == "projector-postgres":
            row.notes.append("PostgreSQL: initdb defaults (fsync on, synchronous_commit on), "
                             "127.0.0.1 TCP, psycopg 3")
        return self.judge(row, Target(f">= {factor} x baseline", lambda: ratio >= factor))

    async def _naive(self, server: NatsServer, sqlite_rate: float) -> None:
        key = "projector-naive"
        upto = min(self.sizes.naive_events, self.sizes.big_stream)
        self.log(f"projector-naive: one transaction per event, sequences 1..{upto:,}")
        meter = CpuMeter({"bench (naive handler)": os.getpid(), "nats-server": server.pid or 0})
        path = self.workdir / key / "naive.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        result = await run_naive(server.url, sqlite_engine(path), upto,
                                 deadline_seconds=self.sizes.projector_deadline)
        cpu = meter.describe()
        ratio = sqlite_rate / result.rate if result.rate else 0.0
        row = Row(key, FIGURES[key], f"{ratio:.1f}x ({_n(sqlite_rate)} ev/s)",
                  f"{_n(result.rate)} ev/s (naive handler, SQLite)", f"{ratio:.1f}x")
        row.notes += [
            f"naive: decode (decode_event + the projector's rollup), then per event one "
            f"transaction: applied id, upsert of its rows, position; {result.events:,} events in "
            f"{result.seconds:.1f} s, in the bench process; CPU {cpu}",
            "projector: the SQLite figure above (same stream, from sequence 1)",
        ]
        self.rows[key] = self.judge(row, Target(">= 10 x", lambda: ratio >= 10))
        self.log(f"projector-naive: {_n(result.rate)} ev/s, projector {ratio:.1f}x")

    async def _deferred_indexes(self, run: ProjectionRun, workdir: Path,
                                limit: float = 300.0) -> None:
        """Wait until the projector has built the index it defers while catching up (it
        does once caught up): a rebuild is done when reads have their indexes again. Goes
        on sampling the processes' memory meanwhile."""
        uri = f"file:{workdir / 'readmodel.sqlite3'}?mode=ro"
        pid = run.process.pid
        assert pid is not None
        started = time.perf_counter()
        while time.perf_counter() - started < limit:
            run.peak_together_kib = max(run.peak_together_kib, tree_rss_kib(pid))
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
                found = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                   "AND name LIKE 'activities_g%_by_day'").fetchone()[0]
            if found:
                self.log(f"rebuild: deferred index built "
                         f"{time.perf_counter() - started:.1f} s after the position")
                break
            await asyncio.sleep(run.poll_seconds)
        else:  # counted in the rebuild's time, which then shows it; and said why
            self.warnings.append(f"rebuild: no activities_g*_by_day index after {limit:.0f} s "
                                 "(renamed? not built?)")
        run.index_seconds = time.perf_counter() - started
        run.peak_rss_kib = tree_peak_kib(pid)

    def _rebuild_rows(self, run: ProjectionRun, read_rate: float) -> None:
        """The rebuild's events/s after its first commit, against a raw ordered read of the
        same events in the same run (the target is a ratio: it holds on any machine)."""
        s = self.sizes
        total = s.big_stream
        done = run.since_healthy_seconds + run.index_seconds
        ratio = run.rate / read_rate if read_rate else 0.0
        if run.reached:
            measured = f"{_n(run.rate)} ev/s ({done:.1f} s)"
        else:
            estimate = total / run.rate if run.rate else float("inf")
            measured = (f"{_n(run.rate)} ev/s (> {s.rebuild_deadline:.0f} s: at the cap "
                        f"{run.last_position:,} of {total:,}; ~{estimate:.0f} s in all)")
        row = Row("rebuild", FIGURES["rebuild"].replace("the big stream", f"{total:,} events"),
                  measured, f"{_n(read_rate)} ev/s (raw ordered consumer, same {total:,} "
                  "events)", f"{ratio:.2f}x")
        row.notes += [
            f"events/s from the first commit to position {total:,}; {done:.1f} s from "
            f"/healthz to that position and the by-day index built (deferred until caught up: "
            f"{run.index_seconds:.1f} s after the position), {total / done:,.0f} ev/s over "
            f"that; process start before it {run.startup_seconds:.1f} s",
            f"CPU {run.cpu}" + _slow(run),
        ]
        self.rows["rebuild"] = self.judge(row, Target(
            ">= 0.5 x baseline", lambda: run.reached and ratio >= 0.5))
        mib = run.peak_together_kib / 1024
        rss = Row("rss", FIGURES["rss"], f"{mib:.0f} MiB")
        rss.notes.append(f"the most VmRSS the projector process (pid {run.process.pid}) and "
                         f"its writer process held together, sampled every "
                         f"{run.poll_seconds * 1000:.0f} ms up to position {run.last_position:,} "
                         f"and its by-day index; "
                         f"each one's own peak (VmHWM; they peak at different moments): "
                         f"{_peak(run)}")
        self.rows["rss"] = self.judge(rss, Target("<= 300 MB", lambda: mib * 1.048576 <= 300))

    async def _totals_get(self, run: ProjectionRun) -> None:
        gazetteer = load_gazetteer()
        provinces = [(m, p.code) for m in AdminMap for p in gazetteer.children(m, "VN")]
        filters = {
            AdminMap.LEGACY: ["", "", "&campaign=ngay-cuoi-tuan-cung-dan", "&period=2023",
                              "&period=2024-Q2", "&indicator=road_km"],
            AdminMap.Y2025: ["", "", "&campaign=dan-van-kheo", "&period=2026",
                             "&period=2025-Q4", "&indicator=trees_planted"],
        }
        rng = random.Random(17)
        reqs = []
        for _ in range(self.sizes.totals_requests + 20):
            admin_map, code = rng.choice(provinces)
            query = rng.choice(filters[admin_map])
            reqs.append(Request("GET", f"/v1/totals/{code}?map={admin_map.value}{query}"))
        self.log(f"totals-get: {self.sizes.totals_requests:,} GETs of provinces with children")
        port = run.process.port
        await closed_loop(LOCALHOST, port, reqs[:20], 1)
        assert run.process.pid is not None
        meter = CpuMeter({"projector": run.process.pid})
        with self.profiler.attach("totals-get", run.process.pid):
            result = await closed_loop(LOCALHOST, port, reqs[20:], 1,
                                       max_seconds=self.sizes.totals_seconds)
        cpu = meter.describe()
        p50, p99 = percentile(result.latencies, 0.5), percentile(result.latencies, 0.99)
        row = Row("totals-get", FIGURES["totals-get"].replace(
            "big stream", f"{run.last_position:,} events"), f"{_ms(p99)}")
        row.notes += [
            f"{result.count:,} GETs (at most {self.sizes.totals_seconds:.0f} s), one "
            f"connection, random provinces of both maps (half unfiltered, half by campaign, "
            f"period or indicator); p50 {_ms(p50)}, "
            f"p99 {_ms(p99)}, max {_ms(max(result.latencies, default=float('nan')))}; "
            f"{_n(result.rate)} req/s; HTTP {_statuses(result)}; CPU {cpu}",
        ]
        if not run.reached:
            row.notes.append("the rebuild had not finished: measured while the projector was "
                             "still applying the rest of the stream")
        ok = result.statuses.get(200, 0) == result.count and run.reached
        self.rows["totals-get"] = self.judge(row, Target("<= 20 ms",
                                                         lambda: p99 <= 0.020 and ok))
        self.log(f"totals-get: p99 {_ms(p99)}")

    async def _ui(self, run: ProjectionRun) -> None:
        """The committee page of random 2025 provinces (its HTML holds every figure it
        shows: totals, children, the chart's months, the completeness), and the
        completeness answer alone, one connection each in turn."""
        gazetteer = load_gazetteer()
        provinces = [p.code for p in gazetteer.children(AdminMap.Y2025, "VN")]
        filters = ["", "", "&campaign=dan-van-kheo", "&period=2026", "&indicator=road_km"]
        rng = random.Random(23)
        count = max(20, self.sizes.totals_requests // 4)
        port = run.process.port
        results: dict[str, LoadResult] = {}
        for kind, path in (("page", "/ui/{}?map=2025{}"),
                           ("completeness", "/v1/completeness/{}?map=2025{}")):
            reqs = [Request("GET", path.format(rng.choice(provinces), rng.choice(filters)))
                    for _ in range(count + 10)]
            self.log(f"ui: {count:,} GETs of the {kind} of 2025 provinces")
            await closed_loop(LOCALHOST, port, reqs[:10], 1)
            results[kind] = await closed_loop(LOCALHOST, port, reqs[10:], 1,
                                              max_seconds=self.sizes.totals_seconds)
        page, done = results["page"], results["completeness"]
        p95 = percentile(page.latencies, 0.95)
        row = Row("ui", FIGURES["ui"].replace("big stream", f"{run.last_position:,} events"),
                  _ms(p95))
        row.notes += [
            f"{page.count:,} GETs of the page, one connection, random 2025 provinces (some "
            f"filtered by campaign, period or indicator): p50 "
            f"{_ms(percentile(page.latencies, 0.5))}, p95 {_ms(p95)}, max "
            f"{_ms(max(page.latencies, default=float('nan')))}; HTTP {_statuses(page)}",
            f"its completeness alone (`GET /v1/completeness/<province>`): p50 "
            f"{_ms(percentile(done.latencies, 0.5))}, p95 "
            f"{_ms(percentile(done.latencies, 0.95))}; HTTP {_statuses(done)}",
        ]
        ok = page.statuses.get(200, 0) == page.count and run.reached
        self.rows["ui"] = self.judge(row, Target("<= 150 ms", lambda: p95 <= 0.150 and ok))
        self.log(f"ui: page p95 {_ms(p95)}")

    async def _at_scale(self, big: NatsServer) -> None:
        """Ingest on the big stream against ingest on an empty one, in turns ``ingest_rounds``
        times (empty, big; ...): the batch endpoint (the same number of events, batch size
        and connections; fresh ids in every run), then the single-report POST's open-loop
        p99. The big stream grows by each run's events; an empty one is a fresh server."""
        s = self.sizes
        size = min(s.batch_size, max_batch())
        warm = reports(size, seed=502)
        async with natsload.connect(big.url) as nc:
            stored = await natsload.last_seq(nc)
        empties: list[tuple[float, int, LoadResult, str]] = []
        bigs: list[tuple[float, int, LoadResult, str]] = []
        for turn in range(1, s.ingest_rounds + 1):
            self.log(f"at-scale: {s.batch_events:,} events through the batch endpoint into an "
                     f"empty stream and into the stream of {stored:,}+ (turn {turn})")
            for where in ("empty", "big") if turn % 2 else ("big", "empty"):
                bodies = _batches(reports(s.batch_events, 510 + 2 * turn + (where == "big")),
                                  size)
                (bigs if where == "big" else empties).append(await self._ingest_batch_run(
                    f"at-scale-{where}-{turn}", bodies, warm, big if where == "big" else None))
            self.log(f"at-scale: {_n(empties[-1][0])} ev/s empty, {_n(bigs[-1][0])} ev/s big")
        empty_rate, big_rate = _median(empties, lambda r: r[0])[0], _median(bigs, lambda r: r[0])
        ratio = big_rate[0] / empty_rate
        row = Row("at-scale", FIGURES["at-scale"].replace(
            "the big stream", f"a stream of {stored:,} events"), f"{_n(big_rate[0])} ev/s",
            f"{_n(empty_rate)} ev/s (the same, into an empty stream)", f"{ratio:.2f}x")
        row.notes += [
            f"median of {len(bigs)} runs ({', '.join(_n(r[0]) for r in bigs)} ev/s) over the "
            f"median of {len(empties)} runs into an empty stream "
            f"({', '.join(_n(r[0]) for r in empties)} ev/s), in turns (empty first in odd "
            "turns, big first in even ones)",
            f"{s.batch_events:,} events a run, batches of {size}, {s.batch_concurrency} "
            f"connections; HTTP {_statuses(big_rate[2])}; CPU {big_rate[3]}",
        ]
        self.rows["at-scale"] = self.judge(row, Target(">= 0.8 x empty",
                                                       lambda: ratio >= 0.8))
        self.log(f"at-scale: {ratio:.2f}x")
        if "at-scale-single" not in self.runs:
            return
        count = int(s.single_rate * s.single_open_seconds)
        p99s: dict[str, list[tuple[float, float, LoadResult, str]]] = {"empty": [], "big": []}
        for turn in range(1, s.ingest_rounds + 1):
            for where in ("empty", "big") if turn % 2 else ("big", "empty"):
                reqs = [Request("POST", "/v1/activities", to_json(r))
                        for r in reports(count, seed=530 + 2 * turn + (where == "big"))]
                self.log(f"at-scale-single: {s.single_rate:,.0f}/s single POSTs for "
                         f"{s.single_open_seconds:.0f} s, {where} stream (turn {turn})")
                p99s[where].append(await self._open_loop_run(
                    f"at-scale-single-{where}-{turn}", reqs,
                    big if where == "big" else None))
        empty_p99 = statistics.median(r[1] for r in p99s["empty"])
        big_p99 = statistics.median(r[1] for r in p99s["big"])
        factor = big_p99 / empty_p99 if empty_p99 else float("inf")
        accepted = all(r[2].statuses.get(202, 0) == count for runs in p99s.values()
                       for r in runs)
        row = Row("at-scale-single", FIGURES["at-scale-single"].replace(
            "the big stream", f"a stream of {stored:,}+ events"),
            f"p99 {_ms(big_p99)} at {s.single_rate:,.0f}/s offered",
            f"p99 {_ms(empty_p99)} (the same, on an empty stream)", f"{factor:.2f}x")
        row.notes += [
            f"medians of {len(p99s['big'])} open-loop runs each, in turns: big "
            f"{', '.join(_ms(r[1]) for r in p99s['big'])}, empty "
            f"{', '.join(_ms(r[1]) for r in p99s['empty'])} (p50 big "
            f"{', '.join(_ms(r[0]) for r in p99s['big'])}, empty "
            f"{', '.join(_ms(r[0]) for r in p99s['empty'])})",
            f"{count:,} requests a run, timed from each one's scheduled start; CPU (big, last "
            f"run) {p99s['big'][-1][3]}",
        ]
        self.rows["at-scale-single"] = self.judge(row, Target(
            "<= 1.5 x empty", lambda: factor <= 1.5 and accepted))
        self.log(f"at-scale-single: p99 {_ms(big_p99)} big, {_ms(empty_p99)} empty")

    # ---------------------------------------------------------------- the upgrade

    async def upgrade(self) -> None:
        """Ingest started on a stream of ``upgrade_stream`` events stored in subject layout 1
        (as ingest stored them before layout 2): its start (it lists layout 1's ids from the
        server's subject index, once), the memory of that index, every old report sent
        again answered ``duplicate`` with its original sequence, and the batch endpoint's
        rate for new reports on that stream."""
        s = self.sizes
        total, chunk = s.upgrade_stream, 10_000
        with self._nats("upgrade") as server:
            self.log(f"upgrade: generating and publishing {total:,} events in layout 1")
            started = time.perf_counter()
            async with natsload.connect(server.url) as nc:
                await natsload.create_stream(nc)
                publisher = natsload.PipelinedPublisher(nc, headers=Event.own_subject_headers)
                await publisher.start()
                for events in event_chunks(total, seed=11, chunk=chunk):
                    await publisher.publish([e.in_layout1() for e in events])
                await publisher.wait()
                if publisher.failed:
                    raise RuntimeError(f"upgrade: {publisher.failed} refused: "
                                       f"{publisher.first_error}")
            self.log(f"upgrade: {total:,} layout-1 events in {time.perf_counter() - started:.1f}"
                     " s; starting ingest")
            launched = time.perf_counter()
            with self._ingest(server.url, "upgrade") as ingest:
                start_seconds = time.perf_counter() - launched
                assert ingest.pid is not None
                rss_mib = tree_rss_kib(ingest.pid) / 1024
                indexed = _indexed(ingest.log_file)
                # The first chunk's reports, as event_chunks made them: seqs 1..chunk.
                again = reports(min(chunk, total), seed=11 * 1_000_003)[:s.upgrade_resend]
                answers: list[bytes] = []
                result = await closed_loop(
                    LOCALHOST, ingest.port, _batches(again, min(s.batch_size, max_batch())),
                    s.batch_concurrency,
                    on_response=lambda _i, _r, response, _t: answers.append(response.body))
                items = [item for a in answers for item in json.loads(a)["results"]]
                original = {raw["id"]: seq for seq, raw in enumerate(again, 1)}
                duplicates = sum(1 for item in items if item["status"] == "duplicate"
                                 and item["seq"] == original[item["id"]])
                fresh = await self._ingest_batch_run(
                    "upgrade-fresh", _batches(reports(s.batch_events, 540), s.batch_size),
                    reports(s.batch_size, 541), server)
        with self._nats("upgrade-empty") as server, self._ingest(server.url, "upgrade-empty") \
                as ingest:
            assert ingest.pid is not None
            empty_rss_mib = tree_rss_kib(ingest.pid) / 1024
        row = Row("upgrade", FIGURES["upgrade"].replace("a big stream", f"{total:,} events"),
                  f"started in {start_seconds:.1f} s ({indexed}); {duplicates:,} of "
                  f"{len(again):,} old reports sent again: duplicate",
                  f"{empty_rss_mib:.0f} MiB RSS started on an empty stream",
                  f"{rss_mib:.0f} MiB RSS")
        row.notes += [
            f"{len(again):,} reports of the layout-1 stream sent again in batches: "
            f"{result.seconds:.2f} s, {_n(len(again) / result.seconds)} reports/s (each is "
            "looked for in layout 1, where the filter has wildcards before the id)",
            f"then {s.batch_events:,} new reports through the batch endpoint: "
            f"{_n(fresh[0])} ev/s"
            + (f" ({fresh[0] / self._ingest_empty_rate:.2f}x the ingest-batch runs on an "
               "empty stream)" if self._ingest_empty_rate else ""),
            "nothing is written to upgrade the stream: ingest lists layout 1's subjects from "
            "the server at every start (STREAM.INFO with subjects_filter, 100,000 a page)",
        ]
        self.rows["upgrade"] = self.judge(row, Target(
            "every old report sent again: duplicate", lambda: duplicates == len(again)))
        self.log(f"upgrade: start {start_seconds:.1f} s, {indexed}, {duplicates:,} duplicates")


def _batches(raws: Sequence[dict[str, Any]], size: int) -> list[Request]:
    return [Request("POST", "/v1/activities/batch", to_json(list(raws[i:i + size])))
            for i in range(0, len(raws), size)]


def _indexed(log_file: Path) -> str:
    """What ingest's start logged of its layout-1 index."""
    with contextlib.suppress(OSError):
        for line in log_file.read_text(errors="replace").splitlines():
            if "subject layout 1" in line:
                return str(json.loads(line).get("message", line))
    return "no index logged"


def _count_lines(path: Path, needle: str) -> int:
    try:
        with path.open(errors="replace") as log:
            return sum(needle in line.lower() for line in log)
    except OSError:
        return 0


def _median(samples: Sequence[_T], rate: Callable[[_T], float]) -> _T:
    """The sample whose rate is the median (the lower middle one of an even number), with
    whatever was measured with it."""
    return sorted(samples, key=rate)[(len(samples) - 1) // 2]


def _median_run(runs: Sequence[ProjectionRun]) -> ProjectionRun:
    return _median(runs, lambda run: run.rate)


def _peak(run: ProjectionRun) -> str:
    """``241 MiB`` or ``301 MiB (service 201 + writer 100)``."""
    parts = [kib / 1024 for kib in run.peak_rss_kib]
    if len(parts) == 1:
        return f"{parts[0]:.0f} MiB"
    shown = " + ".join(f"{mib:.0f}" for mib in parts[1:])
    return f"{sum(parts):.0f} MiB (service {parts[0]:.0f} + writer {shown})"


def _slow(run: ProjectionRun) -> str:
    return (f"; the projector logged {run.slow_consumer_errors:,} nats-py slow-consumer "
            "errors (messages dropped, then read again)" if run.slow_consumer_errors else "")


def _next_or_none(chunks: Iterator[list[Event]]) -> list[Event] | None:
    return next(chunks, None)
