"""The read side's queries: totals of the active generation, freshness, dead letters.

A read of totals sums, per locality, the all-time rows, or for a date range the monthly
rows of the whole months in it and the activities of the days that cut through a month
(:func:`.periods.plan_range`). It reads the position and the sums in one snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, overload

from sqlalchemy import Connection, Engine, Table, select

from cungdan_contracts import INDICATORS

from .engine import is_sqlite
from .periods import plan_range
from .rollup import INDICATOR_INDEX
from .schema import GenerationTables, generation_tables, generations
from .sums import sums_by

_CODES = tuple(INDICATORS)
"""The catalog's indicator codes, in the order of the sums' lists."""


@dataclass(frozen=True, slots=True)
class TotalsFilter:
    campaign: str | None = None
    indicator: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as the read model keeps it."""

    seq: int
    subject: str
    reason: str
    attempts: int
    dead_lettered_at: dt.datetime
    redriven_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Part:
    """One map's localities to sum (``map``: an :class:`AdminMap`, or the 2025 entries of
    legacy activities, :data:`.rollup.CONVERTED` or :data:`.rollup.UNATTRIBUTED`, which
    are all-time only). ``provinces`` (those every locality lies in, if known) narrows
    the scan of activities for date ranges that cut through a month."""

    map: str
    localities: Collection[str]
    provinces: Collection[str] = ()


def totals(engine: Engine, admin_map: str, localities: Collection[str], where: TotalsFilter,
           *, province: str | None = None) -> tuple[int, dict[str, dict[str, int]]]:
    """Sums per locality and indicator (in units) from the active generation, and the
    stream position they reflect, read in one snapshot."""
    position, (sums,) = totals_of(
        engine, [Part(admin_map, localities, (province,) if province else ())], where)
    # an indicator filtered out was never summed, and one corrected away sums to 0:
    # neither is shown
    return position, {code: named(sums.get(code)) for code in localities}


def named(amounts: Sequence[int] | None) -> dict[str, int]:
    """Amounts in catalog order -> indicator -> units, the nonzero ones."""
    return {_CODES[i]: amount for i, amount in enumerate(amounts) if amount} if amounts else {}


def totals_of(engine: Engine, parts: Sequence[Part], where: TotalsFilter,
              ) -> tuple[int, list[dict[str, list[int]]]]:
    """:func:`totals` of several parts (e.g. both maps), all in one snapshot, as amounts
    in catalog order (:data:`.rollup.INDICATOR_INDEX`); a locality with nothing is left
    out."""
    summed: list[dict[str, list[int]]] = [{} for _ in parts]
    with active_snapshot(engine) as found:
        if found is None:
            return 0, summed
        for part, sums in zip(parts, summed, strict=True):
            if part.localities:
                _sum_into(found.conn, found.tables, part, sums, where)
    return found.position, summed


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The active generation as one read sees it."""

    conn: Connection
    """A transaction (REPEATABLE READ on PostgreSQL)."""
    position: int
    tables: GenerationTables
    version: int
    """The projection version that made it (:func:`.schema.keeps_closings`)."""


@contextmanager
def active_snapshot(engine: Engine) -> Iterator[Snapshot | None]:
    """One consistent read of the active generation; None without one."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            row = conn.execute(select(generations.c.generation, generations.c.position,
                                      generations.c.version)
                               .where(generations.c.status == "active")).first()
            yield (None if row is None else Snapshot(
                conn, int(row.position), generation_tables(row.generation), int(row.version)))


def _sum_into(conn: Connection, tables: GenerationTables, part: Part,
              sums: dict[str, list[int]], where: TotalsFilter) -> None:
    columns = (where.indicator,) if where.indicator else _CODES
    positions = [INDICATOR_INDEX[c] for c in columns]
    wanted = set(part.localities)
    params: dict[str, Any] = {"map": part.map, "localities": list(part.localities),
                              "campaign": where.campaign}
    shared = {"campaign"} if where.campaign else set()

    def add(table: Table, group: str, *conditions: str) -> list[Any]:
        statement = sums_by(table, group, columns, frozenset({*shared, *conditions}))
        return list(conn.execute(statement, params))

    if where.date_from is None and where.date_to is None:
        grouped = add(tables.totals, "locality", "localities")
    else:
        plan = plan_range(where.date_from, where.date_to)
        grouped = []
        if plan.months is not None:
            first, last = plan.months
            params.update(from_month=first, to_month=last)
            grouped += add(tables.monthly, "locality", "localities",
                           *(["from_month"] if first is not None else []),
                           *(["to_month"] if last is not None else []))
        params["provinces"] = list(part.provinces)
        for day_from, day_to in plan.days:
            params.update(day_from=day_from, day_to=day_to)
            for path, *amounts in add(tables.activities, "path", "days", "counted",
                                      *(["provinces"] if part.provinces else [])):
                grouped += [(code, *amounts) for code in path.split(",") if code in wanted]
    zeros = [0] * len(_CODES)
    for code, *amounts in grouped:
        row = sums.get(code)
        if row is None:
            row = sums[code] = zeros.copy()
        for index, amount in zip(positions, amounts, strict=True):
            row[index] += int(amount or 0)


def freshness(engine: Engine, tables: GenerationTables) -> list[tuple[str, str, dt.datetime]]:
    """When each (map, province) last reported an event counted in a generation."""
    table = tables.freshness
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.map, table.c.province)).all()
    return [(r.map, r.province, aware(r.last_recorded_at)) for r in rows]


def dead_letters(engine: Engine, tables: GenerationTables, *,
                 pending_only: bool = False) -> list[StoredDeadLetter]:
    table = tables.dead_letters
    query = select(table).order_by(table.c.seq)
    if pending_only:
        query = query.where(table.c.redriven_at.is_(None))
    with engine.connect() as conn:
        return [StoredDeadLetter(r.seq, r.subject, r.reason, r.attempts, r.dead_lettered_at,
                                 r.redriven_at) for r in conn.execute(query)]


@overload
def aware(value: dt.datetime) -> dt.datetime: ...


@overload
def aware(value: None) -> None: ...


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp in UTC: SQLite hands timestamps back naive; they were written
    in UTC. None (a column left empty) stays None."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
