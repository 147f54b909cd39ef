"""SQL adapter of the read model: apply batches exactly once, manage generations, answer reads.

The stream position, the applied event ids, the dead letters and the totals of
a generation are written in the same transaction, so a crash at any moment
leaves them consistent: on restart the projector resumes after the stored
position and skips any event id it already counted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from cungdan_contracts import AdminMap

from .rollup import Facts, TotalKey, contributions, corrected, retracted
from .schema import GenerationTables, generation_tables, generations, meta


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event comes from, for freshness and metrics."""

    map: str
    province: str
    campaign: str
    recorded_at: dt.datetime


_NO_ORIGIN = Origin("", "", "", dt.datetime.min.replace(tzinfo=dt.UTC))
"""For changes re-read from the pending table: they were noted when they arrived."""


@dataclass(frozen=True, slots=True)
class Logged:
    """A decoded ActivityLogged ready to apply."""

    seq: int
    event_id: str
    facts: Facts
    origin: Origin


@dataclass(frozen=True, slots=True)
class Changed:
    """A decoded correction (new measures, in units) or retraction (``measures`` None)."""

    seq: int
    change_id: str
    activity_id: str
    measures: dict[str, int] | None
    origin: Origin


Item = Logged | Changed


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message that cannot be applied: it becomes a dead letter."""

    seq: int
    subject: str
    reason: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class BatchResult:
    applied: int
    already_applied: int
    skipped: int
    position: int
    origins: tuple[Origin, ...] = ()
    """The origins of the events counted by this batch."""


@dataclass(frozen=True, slots=True)
class TotalsFilter:
    campaign: str | None = None
    indicator: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    generation: int
    version: int
    status: str
    position: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    seq: int
    subject: str
    reason: str
    attempts: int
    dead_lettered_at: dt.datetime
    redriven_at: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chunks(values: Collection[str], size: int = 500) -> Iterator[list[str]]:
    listed = list(values)
    for start in range(0, len(listed), size):
        yield listed[start:start + size]


def _facts_row(facts: Facts) -> dict[str, Any]:
    return {"map": facts.map.value, "path": ",".join(facts.path), "campaign": facts.campaign,
            "day": facts.day, "measures": json.dumps(dict(facts.measures), sort_keys=True),
            "retracted": facts.retracted}


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, real BEGINs) or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" hook below emit BEGIN
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


class ReadModel:
    """The whole read model: its generations, and reads from the active one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    def create_schema(self) -> None:
        meta.create_all(self.engine)

    def ping(self) -> None:
        """Raises if the database does not answer."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (SQLite: the write lock is taken at BEGIN)."""
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, \
                conn.begin():
            yield conn

    def generations(self) -> list[Generation]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(generations).order_by(generations.c.generation)).all()
        return [Generation(r.generation, r.version, r.status, r.position) for r in rows]

    def active(self) -> Generation | None:
        return next((g for g in self.generations() if g.status == "active"), None)

    def create_generation(self, version: int, *, active: bool = False) -> GenerationStore:
        """New empty tables for the next generation (active at once if there is none yet)."""
        with self.writing() as conn:
            top = conn.execute(select(func.max(generations.c.generation))).scalar() or 0
            number = int(top) + 1
            generation_tables(number).metadata.create_all(conn)
            conn.execute(generations.insert().values(
                generation=number, version=version, position=0, created_at=_now(),
                status="active" if active else "building",
                activated_at=_now() if active else None))
        return self.generation(number)

    def generation(self, number: int) -> GenerationStore:
        return GenerationStore(self, number)

    def activate(self, number: int) -> None:
        """Make ``number`` the generation that serves reads: one transaction, atomic."""
        with self.writing() as conn:
            conn.execute(update(generations).where(generations.c.status == "active")
                         .values(status="retired"))
            conn.execute(update(generations).where(generations.c.generation == number)
                         .values(status="active", activated_at=_now()))

    def drop_generation(self, number: int) -> None:
        with self.writing() as conn:
            generation_tables(number).metadata.drop_all(conn)
            conn.execute(generations.delete().where(generations.c.generation == number))

    def totals(self, admin_map: str, localities: Collection[str],
               where: TotalsFilter) -> tuple[int, dict[str, dict[str, int]]]:
        """Sums per locality and indicator (in units) from the active generation, and the
        stream position they reflect, read in one snapshot."""
        result: dict[str, dict[str, int]] = {code: {} for code in localities}
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                row = conn.execute(select(generations.c.generation, generations.c.position)
                                   .where(generations.c.status == "active")).first()
                if row is None:
                    return 0, result
                totals = generation_tables(row.generation).totals
                query = (
                    select(totals.c.locality, totals.c.indicator, func.sum(totals.c.amount))
                    .where(totals.c.map == admin_map, totals.c.locality.in_(list(localities)))
                    .group_by(totals.c.locality, totals.c.indicator)
                    .having(func.sum(totals.c.amount) != 0)  # corrected away: not shown
                )
                if where.campaign:
                    query = query.where(totals.c.campaign == where.campaign)
                if where.indicator:
                    query = query.where(totals.c.indicator == where.indicator)
                if where.date_from:
                    query = query.where(totals.c.day >= where.date_from)
                if where.date_to:
                    query = query.where(totals.c.day <= where.date_to)
                for locality, indicator, amount in conn.execute(query):
                    result[locality][indicator] = int(amount)
                return int(row.position), result


class GenerationStore:
    """Writes into one generation's tables."""

    def __init__(self, model: ReadModel, number: int) -> None:
        self.model = model
        self.number = number
        self.tables: GenerationTables = generation_tables(number)

    def position(self) -> int:
        with self.model.engine.connect() as conn:
            return self._position(conn)

    def _position(self, conn: Connection, *, lock: bool = False) -> int:
        query = select(generations.c.position).where(generations.c.generation == self.number)
        if lock and not self.model.is_sqlite:
            query = query.with_for_update()
        value = conn.execute(query).scalar()
        if value is None:
            raise LookupError(f"generation {self.number} does not exist")
        return int(value)

    def apply(self, batch: Sequence[Item | Skipped]) -> BatchResult:
        """Fold a batch (in stream order) into the totals, exactly once, in one transaction."""
        if not batch:
            return BatchResult(0, 0, 0, self.position())
        with self.model.writing() as conn:
            current = self._position(conn, lock=True)
            fresh = [item for item in batch if item.seq > current]
            items = [item for item in fresh if not isinstance(item, Skipped)]
            skipped = [item for item in fresh if isinstance(item, Skipped)]
            counted, already = self._fold(conn, items)
            if skipped:
                conn.execute(self.tables.dead_letters.insert(), [
                    {"seq": s.seq, "subject": s.subject, "reason": s.reason,
                     "attempts": s.attempts, "dead_lettered_at": _now()} for s in skipped])
            new_position = max(current, batch[-1].seq)
            if new_position != current:
                conn.execute(update(generations)
                             .where(generations.c.generation == self.number)
                             .values(position=new_position))
        return BatchResult(len(counted), already, len(skipped), new_position,
                           tuple(i.origin for i in counted))

    def _fold(self, conn: Connection, items: Sequence[Item]) -> tuple[list[Item], int]:
        """Apply activities and changes in order; returns what counted and how many were
        already counted before (redeliveries, re-published ids)."""
        t = self.tables
        activity_ids = {i.event_id for i in items if isinstance(i, Logged)} | {
            i.activity_id for i in items if isinstance(i, Changed)}
        state = self._activities(conn, activity_ids)
        known_changes = self._known(conn, t.changes.c.change_id,
                                    {i.change_id for i in items if isinstance(i, Changed)})
        waiting = self._pending(conn, {i.event_id for i in items
                                       if isinstance(i, Logged) and i.event_id not in state})
        summed: Counter[TotalKey] = Counter()
        new_activities: dict[str, Logged] = {}
        touched: set[str] = set()
        new_changes: list[Changed] = []
        parked: list[Changed] = []
        released: list[int] = []
        counted: list[Item] = []
        already = 0

        def change(ch: Changed) -> None:
            facts = state.get(ch.activity_id)
            if facts is None:
                parked.append(ch)  # its activity has not arrived (yet)
                return
            after, moved = (retracted(facts) if ch.measures is None
                            else corrected(facts, ch.measures))
            state[ch.activity_id] = after
            touched.add(ch.activity_id)
            summed.update(moved)

        for item in items:
            if isinstance(item, Logged):
                if item.event_id in state:
                    already += 1
                    continue
                state[item.event_id] = item.facts
                new_activities[item.event_id] = item
                summed.update(contributions(item.facts))
                counted.append(item)
                for ch in [*waiting.pop(item.event_id, []),
                           *(p for p in parked if p.activity_id == item.event_id)]:
                    if ch in parked:
                        parked.remove(ch)
                    else:
                        released.append(ch.seq)
                    change(ch)
            else:
                if item.change_id in known_changes:
                    already += 1
                    continue
                known_changes.add(item.change_id)
                new_changes.append(item)
                counted.append(item)
                change(item)
        self._write(conn, state, new_activities, touched, new_changes, parked, released)
        self._upsert_totals(conn, summed)
        self._note_freshness(conn, (i.origin for i in counted))
        return counted, already

    def _write(self, conn: Connection, state: dict[str, Facts], new: dict[str, Logged],
               touched: set[str], changes: list[Changed], parked: list[Changed],
               released: list[int]) -> None:
        t = self.tables
        if new:
            conn.execute(t.activities.insert(), [
                {"event_id": i, "seq": item.seq, **_facts_row(state[i])}
                for i, item in new.items()])
        existing = touched - new.keys()
        if existing:
            conn.execute(
                t.activities.update().where(t.activities.c.event_id == bindparam("id"))
                .values(measures=bindparam("m"), retracted=bindparam("r")),
                [{"id": i, "m": _facts_row(state[i])["measures"], "r": state[i].retracted}
                 for i in existing])
        if changes:
            conn.execute(t.changes.insert(), [
                {"change_id": c.change_id, "seq": c.seq, "activity_id": c.activity_id}
                for c in changes])
        if parked:
            conn.execute(t.pending.insert(), [
                {"seq": c.seq, "change_id": c.change_id, "activity_id": c.activity_id,
                 "measures": None if c.measures is None else json.dumps(c.measures)}
                for c in parked])
        if released:
            conn.execute(t.pending.delete().where(t.pending.c.seq.in_(released)))

    def _activities(self, conn: Connection, ids: Collection[str]) -> dict[str, Facts]:
        t = self.tables.activities
        found: dict[str, Facts] = {}
        for chunk in _chunks(ids):
            for row in conn.execute(select(t).where(t.c.event_id.in_(chunk))):
                found[row.event_id] = Facts(
                    AdminMap(row.map), tuple(row.path.split(",")), row.campaign, row.day,
                    json.loads(row.measures), bool(row.retracted))
        return found

    def _known(self, conn: Connection, column: Any, ids: Collection[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(ids):
            known.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return known

    def _pending(self, conn: Connection, activity_ids: Collection[str]) -> dict[str, list[Changed]]:
        t = self.tables.pending
        waiting: dict[str, list[Changed]] = {}
        for chunk in _chunks(activity_ids):
            rows = conn.execute(select(t).where(t.c.activity_id.in_(chunk)).order_by(t.c.seq))
            for r in rows:
                waiting.setdefault(r.activity_id, []).append(Changed(
                    r.seq, r.change_id, r.activity_id,
                    None if r.measures is None else json.loads(r.measures), _NO_ORIGIN))
        return waiting

    def _upsert_totals(self, conn: Connection, summed: Counter[TotalKey]) -> None:
        totals = self.tables.totals
        insert = (sqlite.insert if self.model.is_sqlite else postgresql.insert)(totals)
        statement = insert.on_conflict_do_update(
            index_elements=["map", "locality", "campaign", "indicator", "day"],
            set_={"amount": totals.c.amount + insert.excluded.amount},
        )
        rows = [{"map": k.map.value, "locality": k.locality, "campaign": k.campaign,
                 "indicator": k.indicator, "day": k.day, "amount": amount}
                for k, amount in summed.items() if amount]
        if rows:
            conn.execute(statement, rows)

    def _note_freshness(self, conn: Connection, origins: Iterable[Origin]) -> None:
        latest: dict[tuple[str, str], dt.datetime] = {}
        for origin in origins:
            if origin is _NO_ORIGIN:
                continue
            key = (origin.map, origin.province)
            if key not in latest or origin.recorded_at > latest[key]:
                latest[key] = origin.recorded_at
        if not latest:
            return
        table = self.tables.freshness
        insert = (sqlite.insert if self.model.is_sqlite else postgresql.insert)(table)
        newest = (func.max if self.model.is_sqlite else func.greatest)(
            table.c.last_recorded_at, insert.excluded.last_recorded_at)
        conn.execute(insert.on_conflict_do_update(
            index_elements=["map", "province"], set_={"last_recorded_at": newest}), [
            {"map": m, "province": p, "last_recorded_at": at.astimezone(dt.UTC)}
            for (m, p), at in latest.items()])

    def freshness(self) -> list[tuple[str, str, dt.datetime]]:
        """When each (map, province) last reported an event counted here."""
        table = self.tables.freshness
        with self.model.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.map, table.c.province)).all()
        return [(r.map, r.province, _aware(r.last_recorded_at)) for r in rows]

    def dead_letters(self, *, pending_only: bool = False) -> list[DeadLetter]:
        table = self.tables.dead_letters
        query = select(table).order_by(table.c.seq)
        if pending_only:
            query = query.where(table.c.redriven_at.is_(None))
        with self.model.engine.connect() as conn:
            return [DeadLetter(r.seq, r.subject, r.reason, r.attempts, r.dead_lettered_at,
                               r.redriven_at) for r in conn.execute(query)]

    def redrive(self, item: Item) -> bool:
        """Apply a dead letter that now decodes, exactly once; True if it counted."""
        table = self.tables.dead_letters
        with self.model.writing() as conn:
            pending = conn.execute(select(table.c.seq).where(
                table.c.seq == item.seq, table.c.redriven_at.is_(None))).first()
            if pending is None:
                return False
            counted, _ = self._fold(conn, [item])
            conn.execute(update(table).where(table.c.seq == item.seq)
                         .values(redriven_at=_now()))
        return bool(counted)
