"""``python -m benchmarks.closings``: the cost of closings in a rebuild (the store alone).

A closing freezes its province's figures for the period (:func:`.closings._freeze`): one
read of the activities by (map, province, day). A rebuild makes its generation without the
deferred by-day index (:func:`.schema.is_deferred`) and builds it for its first closing
(:func:`.schema.read_by_closings`); before that, each freeze scanned the activities.

``--freeze``: the time of one freeze, with and without the index, on the bench's events
(:func:`benchmarks.apply.decoded`) applied to a generation of 250k, 500k and 1M rows.

``--rebuild``: the bench's events in date order with 34 provinces closing every month,
quarter and year of the span after its last day (578 closings a year; 2,584 over the 54
months of the bench's dates, 2022-01 to 2026-06), applied to a fresh generation in
batches as a rebuild does; the time of the applies, of the freezes among them, and of the
deferred indexes built at the end.
``--no-closings`` gives the same stream without its closings. One SQLite file (or
``--postgres``: a throwaway cluster)::

    python -m benchmarks.closings --freeze --cache /tmp/bench-1m.pickle
    python -m benchmarks.closings --rebuild --cache /tmp/bench-1m.pickle
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_contracts.period_dates import default_map, period_range
from cungdan_projector import closings
from cungdan_projector.engine import make_engine
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Logged, Message, PeriodMark
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.schema import GenerationTables
from cungdan_projector.store import GenerationStore
from cungdan_projector.writer import unpack

from .apply import decoded, read_model_url

PROVINCES = 34
SIZES = (250_000, 500_000, 1_000_000)
AT = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def _periods(first: dt.date, last: dt.date) -> list[str]:
    """Every month, quarter and year wholly inside [first, last], by last day, the month
    before its quarter before its year."""
    found: list[tuple[dt.date, int, str]] = []
    for year in range(first.year, last.year + 1):
        for rank, names in enumerate((
                [f"{year}-{m:02d}" for m in range(1, 13)],
                [f"{year}-Q{q}" for q in range(1, 5)], [f"{year}"])):
            for name in names:
                start, end = period_range(name)
                if first <= start and end <= last:
                    found.append((end, rank, name))
    return [name for _, _, name in sorted(found)]


def _provinces(admin_map: AdminMap) -> list[str]:
    codes = sorted(p.code for p in load_gazetteer().children(admin_map, "VN"))
    return codes[:PROVINCES]


def with_closings(items: Sequence[Message], closing: bool = True) -> list[Message]:
    """The activities in date order (stable), each period's closings after its last day."""
    logged = sorted((i for i in items if isinstance(i, Logged)), key=lambda i: i.facts.day)
    days = [i.facts.day for i in logged]
    marks: dict[dt.date, list[tuple[str, str, str]]] = {}
    if closing:
        for period in _periods(days[0].replace(day=1), days[-1]):
            admin_map = default_map(period)
            for province in _provinces(admin_map):
                marks.setdefault(period_range(period)[1], []).append(
                    (admin_map.value, province, period))
    out: list[Message] = []
    for index, item in enumerate(logged):
        out.append(dataclasses.replace(item, seq=len(out) + 1))
        if index + 1 == len(logged) or days[index + 1] != item.facts.day:
            for key_map, province, period in marks.pop(item.facts.day, []):
                out.append(PeriodMark(len(out) + 1, "closed", key_map, province, period, 1,
                                      AT, "bench", "bench"))
    return out


@dataclasses.dataclass
class FreezeClock:
    """Times every call of :func:`.closings._freeze` (patched in for a run)."""

    seconds: list[float] = dataclasses.field(default_factory=list)

    def __enter__(self) -> FreezeClock:
        self._freeze = closings._freeze

        def timed(conn: Connection, tables: GenerationTables, mark: PeriodMark,
                  day: Any) -> None:
            began = time.perf_counter()
            self._freeze(conn, tables, mark, day)
            self.seconds.append(time.perf_counter() - began)

        closings._freeze = timed
        return self

    def __exit__(self, *_: object) -> None:
        closings._freeze = self._freeze


def _batches(items: Sequence[Message], size: int) -> Iterator[Sequence[Message]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rebuild(model: ReadModel, items: Sequence[Message], batch: int) -> None:
    store = model.create_generation(PROJECTION_VERSION, active=True)
    closed = sum(isinstance(i, PeriodMark) for i in items)
    with FreezeClock() as clock:
        began = time.perf_counter()
        for part in _batches(items, batch):
            store.apply(part)
        applied = time.perf_counter() - began
    indexed = time.perf_counter()
    store.build_deferred_indexes()
    built = time.perf_counter() - indexed
    frozen = sum(clock.seconds)
    print(f"{len(items):,} messages ({closed:,} closings) in batches of {batch:,}: "
          f"applied in {applied:.1f} s, of which freezes {frozen:.1f} s "
          f"({frozen / max(len(clock.seconds), 1) * 1e3:.1f} ms each); deferred indexes "
          f"{built:.1f} s; total {applied + built:.1f} s; position {store.position():,}",
          flush=True)


def _timed_freezes(model: ReadModel, store: GenerationStore, marks: Sequence[PeriodMark],
                   day: Callable[[dt.date], Any]) -> list[float]:
    """Each freeze's seconds, in a transaction rolled back (the figures are not kept)."""
    seconds = []
    with model.engine.connect() as conn:
        for mark in marks:
            with conn.begin() as transaction:
                began = time.perf_counter()
                closings._freeze(conn, store.tables, mark, day)
                seconds.append(time.perf_counter() - began)
                transaction.rollback()
    return seconds


def freezes(model: ReadModel, items: Sequence[Message], batch: int) -> None:
    store = model.create_generation(PROJECTION_VERSION, active=True)
    day = dt.date.isoformat if model.is_sqlite else (lambda d: d)
    by_day = next(i for i in store.tables.activities.indexes if str(i.name).endswith("_by_day"))
    marks = [PeriodMark(0, "closed", m.value, p, period, 1, AT, "bench")
             for m, period in ((AdminMap.LEGACY, "2023-05"), (AdminMap.LEGACY, "2023-Q2"),
                               (AdminMap.LEGACY, "2023"), (AdminMap.Y2025, "2025-11"),
                               (AdminMap.Y2025, "2025-Q4"), (AdminMap.Y2025, "2026-Q1"))
             for p in _provinces(m)[:5]]
    done = 0
    for size in SIZES:
        for part in _batches(items[done:size], batch):
            store.apply(part)
        done = size
        with model.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(store.tables.activities)
                                ).scalar_one()
        without = _timed_freezes(model, store, marks, day)
        began = time.perf_counter()
        with model.writing() as conn:
            by_day.create(conn)
        built = time.perf_counter() - began
        with_index = _timed_freezes(model, store, marks, day)
        with model.writing() as conn:
            by_day.drop(conn)
        print(f"{rows:>9,} activities: one freeze {_ms(without)} without the by-day index, "
              f"{_ms(with_index)} with it (built in {built:.2f} s); {len(marks)} freezes",
              flush=True)


def _ms(seconds: list[float]) -> str:
    return (f"median {statistics.median(seconds) * 1e3:.1f} ms "
            f"(max {max(seconds) * 1e3:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--freeze", action="store_true")
    what.add_argument("--rebuild", action="store_true")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, help="keep the decoded events in this file")
    parser.add_argument("--no-closings", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    items = unpack(decoded(args.events, args.seed, args.cache))
    with tempfile.TemporaryDirectory(prefix="cungdan-closings-") as workdir, \
            read_model_url(Path(workdir), args.postgres) as url:
        model = ReadModel(make_engine(url))
        model.create_schema()
        if args.freeze:
            freezes(model, items, args.batch)
        else:
            rebuild(model, with_closings(items, not args.no_closings), args.batch)
        model.engine.dispose()


if __name__ == "__main__":
    main()
