"""The soak figure: ingest driven at a steady rate for minutes through the whole stack
(nats-server, ingest, projector and its writer process), watching what drifts.

Each window (a minute in ``make bench``) it records the RSS of every process and the
freshness of the events accepted in it (202 -> the projector's position covers the
event's sequence, as the freshness figure measures it). At the end every accepted report
must be in the read model once: the ids of the 202s against the read model's ledger of
applied ids, and the stream's last sequence against the last accepted one.

The reports are loadgen's, a few thousand of them used in turn, each sent under a new id
made from its request's index: ten minutes at 1,000/s are 600,000 requests, made as they
are sent instead of held in memory.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from tests.factories import stack_config
from tests.fault.faultkit import sqlite_read_model, stream_last_seq

from cungdan.processes import LOCALHOST
from cungdan.stack import Stack

from .events import reports
from .httpload import Request, closed_loop, open_loop, percentile
from .machine import CpuMeter, descendants, status_kib
from .polling import Poller, Polls, to_json

DISTINCT_REPORTS = 5_000
"""Loadgen reports sent in turn (each time under a new id)."""
RSS_GROWTH_MAX = 0.10
"""Each process's RSS after the warm-up may grow by less than this fraction."""
FRESHNESS_P99_MAX = 0.250
"""Seconds: the p99 of every window's freshness."""
JUDGED = ("ingest", "projector", "projector's writer")
"""The processes whose RSS growth is judged; nats-server's is shown (it holds the stream's
recent blocks in memory as the stream grows)."""


class Reports(Sequence[Request]):
    """``POST /v1/activities`` number ``i``: report ``i % len(base)`` under id ``id_of(i)``."""

    def __init__(self, count: int, *, seed: int, distinct: int = DISTINCT_REPORTS) -> None:
        base = reports(min(count, distinct), seed=seed)
        self._count = count
        self._bodies = [to_json(r) for r in base]
        self._ids = [str(r["id"]).encode() for r in base]
        self._namespace = uuid.UUID(int=seed)

    def id_of(self, index: int) -> str:
        return str(uuid.uuid5(self._namespace, str(index)))

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Request: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Request]: ...

    def __getitem__(self, index: int | slice) -> Request | Sequence[Request]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not 0 <= index < self._count:
            raise IndexError(index)
        n = index % len(self._bodies)
        body = self._bodies[n].replace(self._ids[n], self.id_of(index).encode(), 1)
        return Request("POST", "/v1/activities", body)


@dataclass
class Window:
    """One window of the soak: its requests' freshness, and RSS at its end (KiB)."""

    number: int
    lags: list[float] = field(default_factory=list)
    unseen: int = 0
    rss_kib: dict[str, int] = field(default_factory=dict)

    @property
    def p99(self) -> float:
        return percentile(self.lags, 0.99)


@dataclass
class SoakResult:
    rate: float
    seconds: float
    load_seconds: float
    """How long sending took: more than ``seconds`` when ingest fell behind the rate."""
    latency_p99: float
    """Of the POSTs, timed from each one's scheduled send (queueing for a connection
    included)."""
    window_seconds: float
    warmup_windows: int
    """RSS growth is measured from the end of this many windows (the writer's SQLite page
    cache fills meanwhile: ``engine.WRITER_CACHE_KIB``, bounded)."""
    sent: int
    accepted: int
    statuses: dict[int, int]
    errors: int
    windows: list[Window]
    lost: int
    """Accepted reports (202) not in the read model's ledger."""
    doubled: int
    """Ids the ledger holds more than once."""
    foreign: int
    """Ids in the ledger no 202 (nor the warm-up) accounts for."""
    stream_last: int
    last_accepted: int
    caught_up_seconds: float
    cpu: str

    def growth(self, process: str, after: int | None = None) -> float:
        """The most ``process``'s RSS grew after window ``after`` (the warm-up's last by
        default), as a fraction of what it held then."""
        n = self.warmup_windows if after is None else after
        samples = [w.rss_kib.get(process, 0) for w in self.windows]
        if len(samples) <= n or n < 1 or samples[n - 1] <= 0:
            return float("nan")
        return max(samples[n:]) / samples[n - 1] - 1

    @property
    def processes(self) -> list[str]:
        return list(self.windows[0].rss_kib) if self.windows else []

    @property
    def worst_p99(self) -> float:
        return max((w.p99 for w in self.windows), default=float("nan"))

    def passed(self) -> bool:
        """Every process's RSS growth and every window's freshness within target, and the
        ledger exactly the accepted reports: none lost, doubled or unaccounted for, and the
        stream ending at the last accepted sequence (nothing stored that no 202 told of)."""
        return (bool(self.windows)
                and all(self.growth(p) < RSS_GROWTH_MAX for p in JUDGED)
                and all(w.p99 <= FRESHNESS_P99_MAX and w.unseen == 0 for w in self.windows)
                and self.lost == 0 and self.doubled == 0 and self.foreign == 0
                and self.accepted == self.sent and self.stream_last == self.last_accepted)


def lags_by_window(accepted_seq: Sequence[int], accepted_at: Sequence[float], polls: Polls,
                   started: float, window_seconds: float, windows: int) -> list[Window]:
    """Each 202 (its sequence and when it came) goes to the window it came in; its lag is
    the time to the first later poll whose position covers its sequence."""
    out = [Window(n + 1) for n in range(windows)]
    for seq, at in zip(accepted_seq, accepted_at, strict=True):
        window = out[min(windows - 1, max(0, int((at - started) / window_seconds)))]
        if (lag := polls.lag(seq, at)) is not None:
            window.lags.append(lag)
        else:
            window.unseen += 1
    return out


def processes_rss_kib(pids: dict[str, int]) -> dict[str, int]:
    """VmRSS of each named process, and of the processes the projector started (its
    writer), now."""
    rss = {name: status_kib(pid, "VmRSS") for name, pid in pids.items()}
    for child in descendants(pids["projector"]):
        rss["projector's writer"] = rss.get("projector's writer", 0) + status_kib(child, "VmRSS")
    return rss


async def run_soak(*, workdir: Path, rate: float, seconds: float, window_seconds: float,
                   warmup_seconds: float, poll_seconds: float, env: dict[str, str],
                   position_path: str, log: Callable[[str], None]) -> SoakResult:
    """Start a stack on fresh state, drive it and measure (see the module's docstring)."""
    data = workdir / "soak"
    config = stack_config(data, extra_env=dict(env))
    count = int(rate * seconds)
    windows = max(1, round(seconds / window_seconds))
    requests = Reports(count, seed=601)
    warm = Reports(200, seed=602)
    accepted_seq, accepted_at = array("q"), array("d")
    accepted_index = bytearray(count)
    rss: list[dict[str, int]] = []

    def on_202(index: int, _r: Request, response: Any, at: float) -> None:
        if response.status == 202:
            accepted_seq.append(int(json.loads(response.body)["seq"]))
            accepted_at.append(at)
            accepted_index[index] = 1

    log(f"soak: {count:,} single POSTs at {rate:,.0f}/s ({seconds:.0f} s), RSS and "
        f"freshness every {window_seconds:.0f} s")
    with Stack(config) as stack:
        assert stack.ingest.pid and stack.projector.pid and stack.nats.pid
        pids = {"ingest": stack.ingest.pid, "projector": stack.projector.pid,
                "nats-server": stack.nats.pid}
        await closed_loop(LOCALHOST, config.ingest_port, warm, 4)
        poller = Poller(LOCALHOST, config.projector_port, position_path, poll_seconds)

        def sample(n: int) -> None:
            rss.append(processes_rss_kib(pids))
            log(f"soak: window {n} of {windows}: RSS " + ", ".join(
                f"{k} {v / 1024:.0f} MiB" for k, v in rss[-1].items()))

        async def sampler(started: float) -> None:
            n = 1
            while True:  # until the load is over, however long it takes
                await asyncio.sleep(max(0.0, started + n * window_seconds - time.perf_counter()))
                sample(n)
                n += 1

        poller.start()
        meter = CpuMeter(pids)
        started = time.perf_counter()
        sample_task = asyncio.create_task(sampler(started))
        result = await open_loop(LOCALHOST, config.ingest_port, requests, rate,
                                 on_response=on_202)
        sample_task.cancel()
        await asyncio.gather(sample_task, return_exceptions=True)
        cpu = meter.describe()
        if len(rss) * window_seconds < result.seconds - 1:  # the last window, cut short
            sample(len(rss) + 1)
        last_accepted = max(accepted_seq, default=0)
        loaded = time.perf_counter()
        await poller.wait_for(last_accepted, 60)
        caught_up = time.perf_counter() - loaded
        await poller.stop()
        stream_last = stream_last_seq(stack)
        stack.projector.stop()  # the ledger is read once the projector let go of it
        ledger = sqlite_read_model(data / "readmodel.sqlite3").applied
    expected = {requests.id_of(i) for i in range(count) if accepted_index[i]}
    expected |= {warm.id_of(i) for i in range(len(warm))}
    held = set(ledger)
    result_windows = lags_by_window(accepted_seq, accepted_at, poller.polls, started,
                                    window_seconds, len(rss))
    for window, taken in zip(result_windows, rss, strict=False):
        window.rss_kib = taken
    return SoakResult(
        rate=rate, seconds=seconds, load_seconds=result.seconds,
        latency_p99=percentile(result.latencies, 0.99), window_seconds=window_seconds,
        warmup_windows=min(len(rss) - 1, max(1, round(warmup_seconds / window_seconds))),
        sent=count,
        accepted=len(accepted_seq), statuses=dict(result.statuses), errors=result.errors,
        windows=result_windows, lost=len(expected - held), doubled=len(ledger) - len(held),
        foreign=len(held - expected), stream_last=stream_last, last_accepted=last_accepted,
        caught_up_seconds=caught_up, cpu=cpu)


def describe(result: SoakResult) -> tuple[str, list[str]]:
    """The row's measured cell and its notes."""
    growth = ", ".join(f"{p} {result.growth(p):+.1%}" for p in JUDGED)
    warmup = result.warmup_windows * result.window_seconds
    measured = (f"RSS growth after {warmup:.0f} s: {growth}; freshness p99, worst window "
                f"{result.worst_p99 * 1000:.1f} ms; lost {result.lost}")
    from_first = ", ".join(f"{p} {result.growth(p, 1):+.1%}" for p in result.processes)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
    per_window = "; ".join(
        f"{w.number}: p99 {w.p99 * 1000:.1f} ms"
        + (f" ({w.unseen} unseen)" if w.unseen else "")
        + " · " + ", ".join(f"{k} {v / 1024:.0f}" for k, v in w.rss_kib.items())
        for w in result.windows)
    notes = [
        f"{result.sent:,} single POSTs open-loop at {result.rate:,.0f}/s for "
        f"{result.seconds:.0f} s, sent in {result.load_seconds:.0f} s"
        + (" (ingest fell behind the rate)" if result.load_seconds > 1.05 * result.seconds
           else "")
        + f", POST p99 {result.latency_p99 * 1000:.1f} ms from its scheduled send; "
        f"windows of {result.window_seconds:.0f} s; RSS growth "
        f"measured from the end of window {result.warmup_windows} (the warm-up: the "
        f"writer's SQLite page cache, engine.WRITER_CACHE_KIB, fills meanwhile); from the end "
        f"of the first window: {from_first}; HTTP {statuses}"
        + (f", connection errors: {result.errors}" if result.errors else ""),
        f"per window, freshness p99 and RSS at its end (MiB): {per_window}",
        f"ledger: {result.accepted:,} accepted, lost {result.lost}, doubled {result.doubled}, "
        f"unaccounted {result.foreign}; stream last sequence {result.stream_last:,} "
        f"(last accepted {result.last_accepted:,}); the projector caught up "
        f"{result.caught_up_seconds:.1f} s after the last request",
        f"CPU over the load {result.cpu}; SQLite read model",
    ]
    return measured, notes
