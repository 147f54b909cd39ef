"""One generation's tables: the shell around the projection's rules.

:meth:`GenerationStore.apply` loads what the read model knows about the ids a batch
names, lets :func:`.fold.plan` decide, and writes the plan: totals, activities, the
change ids applied, parked changes, dead letters and the stream position, in one
transaction. So a crash at any moment leaves them consistent: on restart the projector
resumes after the stored position, and an id stored once never counts again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cungdan_contracts import INDICATORS, AdminMap

from . import closings, fold, reads
from .bulk import BulkStatements, CopiedSums, bulk_statements, copy_text
from .engine import CATCH_UP_BATCH
from .items import (
    NO_ORIGIN,
    BatchResult,
    Change,
    Corrected,
    Item,
    Logged,
    Message,
    PeriodMark,
    Retracted,
)
from .rollup import INDICATOR_INDEX, Facts, Tally
from .schema import (
    GenerationTables,
    generation_tables,
    generations,
    is_deferred,
    keeps_closings,
    read_by_closings,
)

if TYPE_CHECKING:
    from .generations import ReadModel


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


class GenerationStore:
    """Applies batches to one generation's tables, and reads its bookkeeping."""

    def __init__(self, model: ReadModel, number: int) -> None:
        self.model = model
        self.number = number
        self.tables: GenerationTables = generation_tables(number)
        self._bulk: BulkStatements = bulk_statements(self.tables, model.engine)
        self._periods: bool | None = None
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

    def _build_closing_indexes(self, conn: Connection) -> None:
        """The deferred indexes a closing reads by (:func:`.schema.read_by_closings`), if
        the generation lacks them: built on the rows so far, maintained from then on."""
        for index in self.tables.activities.indexes:
            if is_deferred(index) and read_by_closings(index):
                index.create(conn, checkfirst=True)

    def apply(self, batch: Sequence[Message],
              presummed: CopiedSums | None = None) -> BatchResult:
        """Fold a batch (in stream order) into the totals, exactly once, in one transaction.

        ``presummed``: :func:`presum` of the batch, made ahead; used only where the plan
        says it is what the fold would add (see :func:`.fold.plan`)."""
        if not batch:
            return BatchResult(0, 0, 0, self.position())
        ahead = presummed if self._bulk.copied_sums is not None else None
        with self.model.writing(catching_up=len(batch) >= CATCH_UP_BATCH) as conn:
            current = self._position(conn, lock=True)
            periods = self._has_periods(conn)
            opened = closings.open_closings(conn, self.tables) if periods else {}
            position, results, indexed = current, [], False
            for part in closings.segments(batch):  # the period events apart, in order
                if isinstance(part, PeriodMark):
                    applied = part.seq > position and periods
                    if applied and part.kind == "closed" and not indexed:
                        self._build_closing_indexes(conn)
                        indexed = True
                    if applied:
                        closings.apply_mark(conn, self.tables, part, opened, day=self._day)
                    results.append(BatchResult(int(applied), 0, 0, max(position, part.seq),
                                               periods=((part.kind, 1),) if applied else ()))
                    position = max(position, part.seq)
                    continue
                plan = self._fold_part(conn, part, position,
                                       ahead if len(part) == len(batch) else None)
                late = closings.note_late(conn, self.tables, plan, opened) if opened else 0
                position = plan.position
                result = plan.result()
                results.append(dataclasses.replace(result, periods=(("late", late),))
                               if late else result)
            if position != current:
                conn.execute(update(generations)
                             .where(generations.c.generation == self.number)
                             .values(position=position))
        return results[0] if len(results) == 1 else _combined(results)

    def _fold_part(self, conn: Connection, batch: Sequence[Message], current: int,
                   ahead: CopiedSums | None) -> fold.Plan:
        """Fold and write messages without period events, past ``current``."""
        messages = fold.fresh(batch, current)
        known = self._known(conn, fold.needs(messages))
        plan = fold.plan(batch, current, known, sums_ahead=ahead is not None)
        self._write(conn, plan, ahead)
        if plan.dead_letters:
            conn.execute(self.tables.dead_letters.insert(), [
                {"seq": d.seq, "subject": d.subject, "reason": d.reason,
                 "attempts": d.attempts, "dead_lettered_at": _now()}
                for d in plan.dead_letters])
        return plan

    def _has_periods(self, conn: Connection) -> bool:
        """Whether this generation has the tables of closings (:func:`.schema.keeps_closings`;
        an older one serves until its rebuild is done, and skips period events)."""
        if self._periods is None:
            version = conn.execute(select(generations.c.version).where(
                generations.c.generation == self.number)).scalar_one()
            self._periods = keeps_closings(int(version))
        return self._periods

    def redrive(self, item: Item) -> bool:
        """Apply a dead letter that now decodes, exactly once; True if it counted."""
        table = self.tables.dead_letters
        with self.model.writing() as conn:
            pending = conn.execute(select(table.c.seq).where(
                table.c.seq == item.seq, table.c.redriven_at.is_(None))).first()
            if pending is None:
                return False
            plan = fold.fold([item], self._known(conn, fold.needs([item])))
            self._write(conn, plan, None)
            conn.execute(update(table).where(table.c.seq == item.seq)
                         .values(redriven_at=_now()))
        return bool(plan.counted)

    def freshness(self) -> list[tuple[str, str, dt.datetime]]:
        return reads.freshness(self.model.engine, self.tables)

    def dead_letters(self, *, pending_only: bool = False) -> list[reads.StoredDeadLetter]:
        return reads.dead_letters(self.model.engine, self.tables, pending_only=pending_only)

    # ------------------------------------------------------------ loading what is known

    def _known(self, conn: Connection, needs: fold.Needs) -> fold.Known:
        stored = self._bulk.stored_activities(conn, needs.logged) if needs.logged else set()
        facts = self._facts(conn, needs.changed)
        applied = self._applied(conn, needs.changes)
        parked = self._parked(conn, needs.parked_for(stored, facts))
        return fold.Known(stored, facts, applied, parked)

    def _facts(self, conn: Connection, ids: Collection[str]) -> dict[str, Facts]:
        t = self.tables.activities
        found: dict[str, Facts] = {}
        for chunk in _chunks(ids):
            for row in conn.execute(select(t).where(t.c.event_id.in_(chunk))):
                measures = {code: int(row._mapping[code]) for code in INDICATORS
                            if row._mapping[code]}
                found[row.event_id] = Facts(AdminMap(row.map), tuple(row.path.split(",")),
                                            row.campaign, row.day, measures, bool(row.retracted))
        return found

    def _applied(self, conn: Connection, ids: Collection[str]) -> set[str]:
        column = self.tables.changes.c.change_id
        known: set[str] = set()
        for chunk in _chunks(ids):
            known.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return known

    def _parked(self, conn: Connection, activity_ids: Collection[str]) -> dict[str, list[Change]]:
        """Changes parked for these activities (which arrived before them)."""
        t = self.tables.pending
        waiting: dict[str, list[Change]] = {}
        if not activity_ids or conn.execute(select(t.c.seq).limit(1)).first() is None:
            return waiting  # nearly always: one probe instead of thousands of ids looked up
        for chunk in _chunks(activity_ids):
            rows = conn.execute(select(t).where(t.c.activity_id.in_(chunk)).order_by(t.c.seq))
            for r in rows:
                change: Change = (
                    Retracted(r.seq, r.change_id, r.activity_id, NO_ORIGIN)
                    if r.measures is None else
                    Corrected(r.seq, r.change_id, r.activity_id, json.loads(r.measures),
                              NO_ORIGIN))
                waiting.setdefault(r.activity_id, []).append(change)
        return waiting

    # ------------------------------------------------------------------ writing the plan

    def _write(self, conn: Connection, plan: fold.Plan, ahead: CopiedSums | None) -> None:
        t = self.tables
        if plan.new:
            self._bulk.insert_activities(conn, [
                [i, item.seq, f.map.value, ",".join(f.path), _province(f.path), f.campaign,
                 self._day(f.day), f.retracted, *_amounts(f)]
                for i, (item, f) in plan.new.items()])
        if plan.updated:
            self._bulk.update_activities(conn, [
                [f.retracted, *_amounts(f), i] for i, f in plan.updated.items()])
        if plan.changes:
            conn.execute(t.changes.insert(), [
                {"change_id": c.change_id, "seq": c.seq, "activity_id": c.activity_id}
                for c in plan.changes])
        if plan.park:
            conn.execute(t.pending.insert(), [
                {"seq": c.seq, "change_id": c.change_id, "activity_id": c.activity_id,
                 "measures": json.dumps(c.measures) if isinstance(c, Corrected) else None}
                for c in plan.park])
        if plan.release:
            conn.execute(t.pending.delete().where(t.pending.c.seq.in_(plan.release)))
        self._add_sums(conn, plan.tally, ahead if plan.sums_ahead else None)
        self._note_freshness(conn, plan.latest)

    def _add_sums(self, conn: Connection, tally: Tally, ahead: CopiedSums | None) -> None:
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


def _combined(results: Sequence[BatchResult]) -> BatchResult:
    """The result of a batch folded in parts (cut at its period events)."""
    return BatchResult(sum(r.applied for r in results), sum(r.already_applied for r in results),
                       sum(r.dead_lettered for r in results), results[-1].position,
                       tuple(c for r in results for c in r.counted),
                       tuple(c for r in results for c in r.latest),
                       tuple(p for r in results for p in r.periods))


def presum(batch: Sequence[Message]) -> CopiedSums | None:
    """What :meth:`GenerationStore.apply` adds to the sums for ``batch`` if every activity
    in it is new, as COPY text (for PostgreSQL), made where the batch is decoded while the
    one before commits: the writer then only sends it. ``None`` for a batch with
    corrections or retractions (the fold needs the stored activities for those)."""
    if any(isinstance(item, Corrected | Retracted | PeriodMark) for item in batch):
        return None
    tally = Tally()
    seen: set[str] = set()
    for item in batch:
        if isinstance(item, Logged) and item.event_id not in seen:  # once each, as the fold
            seen.add(item.event_id)
            tally.add(item.facts)
    return CopiedSums(copy_text(list(tally.overall.values())),
                      copy_text(list(tally.monthly.values())))
