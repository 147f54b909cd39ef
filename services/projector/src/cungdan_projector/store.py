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
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable

from cungdan_contracts import INDICATORS, AdminMap

from .bulk import CopiedSums, bulk_writer, copy_text
from .periods import plan_range
from .rollup import INDICATOR_INDEX, Facts, Tally, corrected, retracted
from .schema import (
    LAYOUT_VERSION,
    GenerationTables,
    generation_tables,
    generations,
    is_deferred,
    meta,
    missing_columns,
)
from .sums import sums_by


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event comes from, for freshness and metrics."""

    map: str
    province: str
    campaign: str
    recorded_at: dt.datetime


_CODES = tuple(INDICATORS)
"""The catalog's indicator codes, in the order of the sums' lists."""

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
    counted: tuple[tuple[str, str, str, int], ...] = ()
    """Events counted by this batch per source (map, province, campaign, events)."""
    latest: tuple[tuple[str, str, dt.datetime], ...] = ()
    """The newest ``recorded_at`` counted per source (map, province)."""


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


def _latest(origins: Iterable[Origin]) -> dict[tuple[str, str], dt.datetime]:
    """The newest ``recorded_at`` per (map, province) of these origins."""
    latest: dict[tuple[str, str], dt.datetime] = {}
    for origin in origins:
        if origin is _NO_ORIGIN:
            continue
        key = (origin.map, origin.province)
        if key not in latest or origin.recorded_at > latest[key]:
            latest[key] = origin.recorded_at
    return latest


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chunks(values: Collection[str], size: int = 500) -> Iterator[list[str]]:
    listed = list(values)
    for start in range(0, len(listed), size):
        yield listed[start:start + size]


def _amounts(facts: Facts) -> list[int]:
    """The activity's units in catalog order (a wide row)."""
    row = [0] * len(INDICATOR_INDEX)
    for code, units in facts.measures.items():
        row[INDICATOR_INDEX[code]] = units
    return row


def _province(path: Sequence[str]) -> str:
    """The province in a locality's path (its locality first, the nation last)."""
    return path[-2] if len(path) >= 2 else ""


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


PAGE_SIZE = 16384
"""SQLite page size of a new read model (bytes)."""
WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024
"""WAL size (bytes) at which a commit copies it back into the database."""
CATCH_UP_WAL_CHECKPOINT_BYTES = 320 * 1024 * 1024
"""The same, for the commits of a projection that is catching up (see :data:`CATCH_UP_BATCH`).

A page that several batches change is copied back once per checkpoint. Rebuilding 1M
events from one stream, back to back (``python -m cungdan.bench`` internals): 59.3-60.7 s
with 40 MiB, 57.5-57.7 s with 160 MiB, 55.2-56.2 s with 320 MiB. A live projection keeps
40 MiB: the commit that checkpoints stalls for longer with more, and freshness p99 went
from 58-70 ms to 138-144 ms with 160 MiB. The WAL file is cut back to the live size at
the first live checkpoint (``journal_size_limit``)."""
CATCH_UP_BATCH = 1_000
"""A batch of at least this many events means the projection is behind the stream (a
rebuild, a backlog): nobody waits on a single event's commit, and throughput counts."""
WRITER_CACHE_KIB = 32 * 1024
"""SQLite page cache of a connection once it has written (each connection has its own)."""


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, real BEGINs) or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # LIFO: the connection used last is used next, so one warm connection (and one
        # page cache) serves the writes instead of every pooled connection in turn.
        engine = create_engine(parsed, connect_args={"timeout": 30}, pool_use_lifo=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" hook below emit BEGIN
            cursor = dbapi_conn.cursor()
            # 16 KiB pages (default 4 KiB), for a database created from now on (an existing
            # one keeps its size): upserts scattered over tables of millions of rows walk
            # shallower B-trees. Applying 400k events: -17% time per event (8 KiB: -13%),
            # with the page cache the same size in bytes.
            cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every ~40 MiB (default: 1,000 pages): a page that several
            # batches changed is copied back once. Measured with batches of 10,000 at 300k
            # events: -22% time per event, with the bigger batch. A bigger WAL stalls the
            # commit that checkpoints it for longer: freshness p99 138-144 ms with 160 MiB,
            # 58-70 ms with 40 MiB (back to back).
            page = cursor.execute("PRAGMA page_size").fetchone()[0]
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            mode = options.get("sqlite_begin", "DEFERRED")
            if mode == "IMMEDIATE":  # a writer: it upserts all over tables of millions of
                # rows, a bigger page cache than the 2 MiB default saves ~15% per event
                conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
                # the checkpoint interval of this transaction's commit (a connection
                # setting: every write transaction sets its own)
                checkpoint = options.get("sqlite_checkpoint_bytes", WAL_CHECKPOINT_BYTES)
                page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={checkpoint // page}")
                conn.exec_driver_sql(f"PRAGMA journal_size_limit={checkpoint}")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _create_tables(conn: Connection, tables: GenerationTables) -> None:
    """A new generation's tables and their indexes, except the deferred ones."""
    for table in tables.metadata.sorted_tables:
        conn.execute(CreateTable(table))
        for index in table.indexes:
            if not is_deferred(index):
                index.create(conn)


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
    def writing(self, *, catching_up: bool = False) -> Iterator[Connection]:
        """A write transaction (SQLite: the write lock is taken at BEGIN; ``catching_up``:
        the WAL is copied back less often, see :data:`CATCH_UP_WAL_CHECKPOINT_BYTES`)."""
        checkpoint = CATCH_UP_WAL_CHECKPOINT_BYTES if catching_up else WAL_CHECKPOINT_BYTES
        with self.engine.connect().execution_options(
                sqlite_begin="IMMEDIATE", sqlite_checkpoint_bytes=checkpoint) as conn, \
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
            _create_tables(conn, generation_tables(number))
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

    def totals(self, admin_map: str, localities: Collection[str], where: TotalsFilter,
               *, province: str | None = None) -> tuple[int, dict[str, dict[str, int]]]:
        """Sums per locality and indicator (in units) from the active generation, and the
        stream position they reflect, read in one snapshot.

        ``province`` (the province every locality lies in, if any) narrows the scan of
        activities for date ranges that cut through a month.
        """
        sums: dict[str, list[int]] = {code: [0] * len(INDICATORS) for code in localities}
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                row = conn.execute(select(generations.c.generation, generations.c.position)
                                   .where(generations.c.status == "active")).first()
                if row is not None:
                    self._sum_into(conn, generation_tables(row.generation), admin_map,
                                   sums, where, province)
        # an indicator filtered out was never summed, and one corrected away sums to 0:
        # neither is shown
        result = {code: {_CODES[i]: amount for i, amount in enumerate(amounts) if amount}
                  for code, amounts in sums.items()}
        return (int(row.position) if row is not None else 0), result

    def _sum_into(self, conn: Connection, tables: GenerationTables, admin_map: str,
                  sums: dict[str, list[int]], where: TotalsFilter,
                  province: str | None) -> None:
        columns = (where.indicator,) if where.indicator else _CODES
        positions = [INDICATOR_INDEX[c] for c in columns]
        params: dict[str, Any] = {"map": admin_map, "localities": list(sums),
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
            params["province"] = province
            for day_from, day_to in plan.days:
                params.update(day_from=day_from, day_to=day_to)
                for path, *amounts in add(tables.activities, "path", "days", "counted",
                                          *(["province"] if province else [])):
                    grouped += [(code, *amounts) for code in path.split(",") if code in sums]
        for code, *amounts in grouped:
            row = sums[code]
            for index, amount in zip(positions, amounts, strict=True):
                row[index] += int(amount or 0)

    def upgrade(self) -> Generation | None:
        """Make the active generation usable by this code: add catalog indicators its
        tables lack; a generation of an older layout is retired and a new, empty one
        made active (returned: the stream is projected into it from the start)."""
        active = self.active()
        if active is None:
            return None
        if active.version < LAYOUT_VERSION:
            with self.writing() as conn:
                conn.execute(update(generations).where(generations.c.generation
                                                       == active.generation)
                             .values(status="retired"))
            fresh = self.create_generation(LAYOUT_VERSION, active=True)
            self.drop_generation(active.generation)
            return Generation(fresh.number, LAYOUT_VERSION, "active", 0)
        tables = generation_tables(active.generation)
        with self.writing() as conn:
            inspector = inspect(conn)
            present = {t.name: {c["name"] for c in inspector.get_columns(t.name)}
                       for t in (tables.totals, tables.monthly, tables.activities)}
            for table, code in missing_columns(tables, present):
                quote = self.engine.dialect.identifier_preparer.quote
                conn.execute(text(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(code)} "
                                  "BIGINT NOT NULL DEFAULT 0"))
        return active


class GenerationStore:
    """Writes into one generation's tables."""

    def __init__(self, model: ReadModel, number: int) -> None:
        self.model = model
        self.number = number
        self.tables: GenerationTables = generation_tables(number)
        self._bulk = bulk_writer(self.tables, model.engine)
        self._day: Callable[[dt.date], Any] = (
            dt.date.isoformat if model.is_sqlite else (lambda day: day))
        """How a date is bound: SQLAlchemy's Date stores ISO text in SQLite."""

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

    def build_deferred_indexes(self) -> None:
        """Build the indexes the generation's tables were made without (a no-op for those
        that exist): called once the generation has caught up with the stream."""
        with self.model.writing() as conn:
            for table in self.tables.metadata.sorted_tables:
                for index in table.indexes:
                    if is_deferred(index):
                        index.create(conn, checkfirst=True)

    def apply(self, batch: Sequence[Item | Skipped],
              presummed: CopiedSums | None = None) -> BatchResult:
        """Fold a batch (in stream order) into the totals, exactly once, in one transaction.

        ``presummed``: :func:`presum` of the batch, made ahead. It is used only when it is
        what the fold would add: every item is new to this generation and nothing stored
        changes it (no corrections, no parked changes); else the fold sums as always."""
        if not batch:
            return BatchResult(0, 0, 0, self.position())
        with self.model.writing(catching_up=len(batch) >= CATCH_UP_BATCH) as conn:
            current = self._position(conn, lock=True)
            fresh = [item for item in batch if item.seq > current]
            items = [item for item in fresh if not isinstance(item, Skipped)]
            skipped = [item for item in fresh if isinstance(item, Skipped)]
            ahead = presummed if len(fresh) == len(batch) and self._bulk.copied_sums \
                else None
            counted, already, latest = self._fold(conn, items, ahead)
            if skipped:
                conn.execute(self.tables.dead_letters.insert(), [
                    {"seq": s.seq, "subject": s.subject, "reason": s.reason,
                     "attempts": s.attempts, "dead_lettered_at": _now()} for s in skipped])
            new_position = max(current, batch[-1].seq)
            if new_position != current:
                conn.execute(update(generations)
                             .where(generations.c.generation == self.number)
                             .values(position=new_position))
        by_source = Counter((i.origin.map, i.origin.province, i.origin.campaign)
                            for i in counted if i.origin is not _NO_ORIGIN)
        return BatchResult(len(counted), already, len(skipped), new_position,
                           tuple((*key, n) for key, n in by_source.items()),
                           tuple((*key, at) for key, at in latest.items()))

    def _fold(self, conn: Connection, items: Sequence[Item], ahead: CopiedSums | None = None
              ) -> tuple[list[Item], int, dict[tuple[str, str], dt.datetime]]:
        """Apply activities and changes in order; returns what counted, how many were
        already counted before (redeliveries, re-published ids), and the newest
        ``recorded_at`` counted per (map, province)."""
        t = self.tables
        logged_ids = {i.event_id for i in items if isinstance(i, Logged)}
        existing = self._bulk.stored_activities(conn, logged_ids) if logged_ids else set()
        state = self._activities(conn, {i.activity_id for i in items if isinstance(i, Changed)})
        known_changes = self._known(conn, t.changes.c.change_id,
                                    {i.change_id for i in items if isinstance(i, Changed)})
        waiting = self._pending(conn, logged_ids - existing - state.keys())
        if ahead is not None and (existing or waiting
                                  or any(isinstance(i, Changed) for i in items)):
            ahead = None  # the fold adds other than the new activities, once each
        tally = Tally()
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
            after = (retracted(facts) if ch.measures is None
                     else corrected(facts, ch.measures))[0]
            state[ch.activity_id] = after
            touched.add(ch.activity_id)
            tally.add(facts, -1)
            tally.add(after)

        for item in items:
            if isinstance(item, Logged):
                if item.event_id in state or item.event_id in existing:
                    already += 1
                    continue
                state[item.event_id] = item.facts
                new_activities[item.event_id] = item
                if ahead is None:
                    tally.add(item.facts)
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
        self._upsert_totals(conn, tally, ahead)
        latest = _latest(i.origin for i in counted)
        self._note_freshness(conn, latest)
        return counted, already, latest

    def _write(self, conn: Connection, state: dict[str, Facts], new: dict[str, Logged],
               touched: set[str], changes: list[Changed], parked: list[Changed],
               released: list[int]) -> None:
        t = self.tables
        if new:
            self._bulk.insert_activities(conn, [
                [i, item.seq, f.map.value, ",".join(f.path), _province(f.path), f.campaign,
                 self._day(f.day), f.retracted, *_amounts(f)]
                for i, item in new.items() for f in (state[i],)])
        existing = touched - new.keys()
        if existing:
            self._bulk.update_activities(conn, [
                [state[i].retracted, *_amounts(state[i]), i] for i in existing])
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
                measures = {code: int(row._mapping[code]) for code in INDICATORS
                            if row._mapping[code]}
                found[row.event_id] = Facts(AdminMap(row.map), tuple(row.path.split(",")),
                                            row.campaign, row.day, measures, bool(row.retracted))
        return found

    def _known(self, conn: Connection, column: Any, ids: Collection[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(ids):
            known.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return known

    def _pending(self, conn: Connection, activity_ids: Collection[str]) -> dict[str, list[Changed]]:
        """Changes parked for these activities (which arrived before them)."""
        t = self.tables.pending
        waiting: dict[str, list[Changed]] = {}
        if not activity_ids or conn.execute(select(t.c.seq).limit(1)).first() is None:
            return waiting  # nearly always: one probe instead of thousands of ids looked up
        for chunk in _chunks(activity_ids):
            rows = conn.execute(select(t).where(t.c.activity_id.in_(chunk)).order_by(t.c.seq))
            for r in rows:
                waiting.setdefault(r.activity_id, []).append(Changed(
                    r.seq, r.change_id, r.activity_id,
                    None if r.measures is None else json.loads(r.measures), _NO_ORIGIN))
        return waiting

    def _upsert_totals(self, conn: Connection, tally: Tally, ahead: CopiedSums | None) -> None:
        copied = self._bulk.copied_sums
        if ahead is not None and copied is not None:
            copied(conn, ahead)
            return
        if tally.overall:
            self._bulk.upsert_totals(conn, list(tally.overall.values()))
        if tally.monthly:
            self._bulk.upsert_monthly(conn, list(tally.monthly.values()))

    def _note_freshness(self, conn: Connection,
                        latest: dict[tuple[str, str], dt.datetime]) -> None:
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
            counted, _, _ = self._fold(conn, [item])
            conn.execute(update(table).where(table.c.seq == item.seq)
                         .values(redriven_at=_now()))
        return bool(counted)


def presum(batch: Sequence[Item | Skipped]) -> CopiedSums | None:
    """What :meth:`GenerationStore.apply` adds to the sums for ``batch`` if every activity
    in it is new, as COPY text (for PostgreSQL), made where the batch is decoded while the
    one before commits: the writer then only sends it. ``None`` for a batch with
    corrections or retractions (the fold needs the stored activities for those)."""
    if any(isinstance(item, Changed) for item in batch):
        return None
    tally = Tally()
    seen: set[str] = set()
    for item in batch:
        if isinstance(item, Logged) and item.event_id not in seen:  # once each, as the fold
            seen.add(item.event_id)
            tally.add(item.facts)
    return CopiedSums(copy_text(list(tally.overall.values())),
                      copy_text(list(tally.monthly.values())))
