"""SQL adapter of the read model: apply a batch in one transaction, answer total queries.

The stream position, the applied event ids and the totals are written in the
same transaction, so a crash at any moment leaves them consistent: on restart
the projector resumes after the stored position and skips any event id it
already counted.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from .rollup import TotalKey
from .schema import applied_events, metadata, position, skipped_events, totals

PROJECTION = "totals-v1"


@dataclass(frozen=True, slots=True)
class Applicable:
    """A decoded event ready to apply: its id and what it adds."""

    seq: int
    event_id: str
    added: Counter[TotalKey]


@dataclass(frozen=True, slots=True)
class Skipped:
    seq: int
    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    applied: int
    already_applied: int
    skipped: int
    position: int


@dataclass(frozen=True, slots=True)
class TotalsFilter:
    campaign: str | None = None
    indicator: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, real BEGINs) or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below emit BEGIN
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


class ReadModelStore:
    def __init__(self, engine: Engine, projection: str = PROJECTION) -> None:
        self.engine = engine
        self.projection = projection
        self._is_sqlite = engine.dialect.name == "sqlite"

    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, \
                conn.begin():
            yield conn

    def position(self) -> int:
        with self.engine.connect() as conn:
            return self._position(conn)

    def _position(self, conn: Connection, *, lock: bool = False) -> int:
        query = select(position.c.seq).where(position.c.projection == self.projection)
        if lock and not self._is_sqlite:
            query = query.with_for_update()
        return int(conn.execute(query).scalar() or 0)

    def apply(self, batch: Sequence[Applicable | Skipped]) -> BatchResult:
        """Fold a batch (in stream order) into the totals, exactly once, in one transaction."""
        if not batch:
            return BatchResult(0, 0, 0, self.position())
        with self._writing() as conn:
            current = self._position(conn, lock=True)
            fresh = [item for item in batch if item.seq > current]
            events = [item for item in fresh if isinstance(item, Applicable)]
            skipped = [item for item in fresh if isinstance(item, Skipped)]
            known = self._known_ids(conn, {e.event_id for e in events})
            counted: dict[str, Applicable] = {}
            for e in events:  # the first of each id wins, in stream order
                if e.event_id not in known and e.event_id not in counted:
                    counted[e.event_id] = e
            summed: Counter[TotalKey] = Counter()
            event_counts: Counter[TotalKey] = Counter()
            for e in counted.values():
                summed.update(e.added)
                event_counts.update(e.added.keys())
            if counted:
                conn.execute(applied_events.insert(), [
                    {"event_id": e.event_id, "seq": e.seq} for e in counted.values()])
            if summed:
                self._upsert_totals(conn, summed, event_counts)
            if skipped:
                conn.execute(skipped_events.insert(), [
                    {"seq": s.seq, "subject": s.subject, "reason": s.reason} for s in skipped])
            new_position = max(current, batch[-1].seq)
            self._set_position(conn, current, new_position)
        return BatchResult(len(counted), len(events) - len(counted), len(skipped), new_position)

    def _known_ids(self, conn: Connection, ids: Collection[str]) -> set[str]:
        known: set[str] = set()
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            known.update(conn.execute(
                select(applied_events.c.event_id).where(applied_events.c.event_id.in_(chunk))
            ).scalars())
        return known

    def _upsert_totals(self, conn: Connection, summed: Counter[TotalKey],
                       event_counts: Counter[TotalKey]) -> None:
        insert = (sqlite.insert if self._is_sqlite else postgresql.insert)(totals)
        statement = insert.on_conflict_do_update(
            index_elements=["map", "locality", "campaign", "indicator", "day"],
            set_={"amount": totals.c.amount + insert.excluded.amount,
                  "events": totals.c.events + insert.excluded.events},
        )
        conn.execute(statement, [
            {"map": k.map.value, "locality": k.locality, "campaign": k.campaign,
             "indicator": k.indicator, "day": k.day, "amount": amount,
             "events": event_counts[k]}
            for k, amount in summed.items()])

    def _set_position(self, conn: Connection, current: int, new: int) -> None:
        if new == current:
            return
        updated = conn.execute(
            position.update()
            .where(position.c.projection == self.projection, position.c.seq == current)
            .values(seq=new))
        if updated.rowcount == 0:
            conn.execute(position.insert().values(projection=self.projection, seq=new))

    def totals(self, admin_map: str, localities: Collection[str],
               where: TotalsFilter) -> tuple[int, dict[str, dict[str, int]]]:
        """Sums per locality and indicator (in units), and the position they reflect."""
        query = (
            select(totals.c.locality, totals.c.indicator, func.sum(totals.c.amount))
            .where(totals.c.map == admin_map, totals.c.locality.in_(list(localities)))
            .group_by(totals.c.locality, totals.c.indicator)
        )
        if where.campaign:
            query = query.where(totals.c.campaign == where.campaign)
        if where.indicator:
            query = query.where(totals.c.indicator == where.indicator)
        if where.date_from:
            query = query.where(totals.c.day >= where.date_from)
        if where.date_to:
            query = query.where(totals.c.day <= where.date_to)
        result: dict[str, dict[str, int]] = {code: {} for code in localities}
        with self.engine.connect() as conn:
            if not self._is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                seen = self._position(conn)
                for locality, indicator, amount in conn.execute(query):
                    result[locality][indicator] = int(amount)
        return seen, result
