"""The read model's generations: created, activated, dropped, and upgraded on start.

Each generation has its own tables and stream position (:mod:`.schema`). Exactly one is
active and serves reads; a rebuild fills a new one beside it, and a one-row update
makes it active (:meth:`ReadModel.activate`), atomically.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, inspect, select, text, update
from sqlalchemy.schema import CreateTable

from . import engine as db
from . import reads
from .fence import SCHEMA_LOCK, lease_meta
from .schema import (
    LAYOUT_VERSION,
    GenerationTables,
    generation_tables,
    generations,
    is_deferred,
    meta,
    missing_columns,
)
from .store import GenerationStore


@dataclass(frozen=True, slots=True)
class Generation:
    generation: int
    version: int
    status: str
    position: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
        self.is_sqlite = db.is_sqlite(engine)

    def create_schema(self) -> None:
        """The shared tables, once: instances that start together on one PostgreSQL take
        turns (an advisory lock for the transaction), as CREATE TABLE races otherwise."""
        with self.writing() as conn:
            if not self.is_sqlite:
                conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
                lease_meta.create_all(conn)  # several instances: one applies (:mod:`.lease`)
            meta.create_all(conn)

    def ping(self) -> None:
        """Raises if the database does not answer."""
        db.ping(self.engine)

    @contextmanager
    def writing(self, *, catching_up: bool = False) -> Iterator[Connection]:
        with db.writing(self.engine, catching_up=catching_up) as conn:
            yield conn

    def totals(self, admin_map: str, localities: Collection[str], where: reads.TotalsFilter,
               *, province: str | None = None) -> tuple[int, dict[str, dict[str, int]]]:
        """See :func:`.reads.totals`."""
        return reads.totals(self.engine, admin_map, localities, where, province=province)

    def totals_of(self, parts: Sequence[reads.Part], where: reads.TotalsFilter,
                  ) -> tuple[int, list[dict[str, list[int]]]]:
        """See :func:`.reads.totals_of`."""
        return reads.totals_of(self.engine, parts, where)

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
                       for t in (tables.totals, tables.monthly, tables.activities,
                                 tables.closing_totals, tables.control_totals)
                       if inspector.has_table(t.name)}  # closings: since version 5
            for table, code in missing_columns(tables, present):
                quote = self.engine.dialect.identifier_preparer.quote
                conn.execute(text(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(code)} "
                                  "BIGINT NOT NULL DEFAULT 0"))
        return active
