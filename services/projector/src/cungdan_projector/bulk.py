"""Bulk writes of the hot tables, the fastest way each database offers.

A batch writes thousands of wide rows (a key, then one amount per indicator). Going
through SQLAlchemy's per-row parameter handling cost more than the database's own work,
so the statements are compiled once per generation and rows go straight to the driver:

- SQLite: ``executemany`` of the compiled upsert (SQLite runs it in-process, without
  round trips);
- PostgreSQL: ``COPY`` into a session-local staging table, then one
  ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``: one statement per table and batch
  instead of one per row. Activities, which never conflict, are copied in directly.

Both run in the caller's transaction, on its connection.

For PostgreSQL a batch's sums can also arrive as COPY text made ahead
(:class:`CopiedSums`): the projector makes it while the batch before commits, so the
writer only sends it (see :func:`.store.presum`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from cungdan_contracts import INDICATORS

from .schema import GenerationTables
from .sqlalchemy_compat import copy_column

ACTIVITY_KEYS = ("event_id", "seq", "map", "path", "province", "campaign", "day", "retracted")
"""The leading columns of an activity row; its amounts follow in catalog order."""
TOTAL_KEYS = ("map", "locality", "campaign")
MONTHLY_KEYS = ("map", "locality", "month", "campaign")

Row = Sequence[Any]


def _pgsql() -> Any:
    """``psycopg.sql``, imported only for a PostgreSQL read model (SQLite never loads it)."""
    from psycopg import sql

    return sql


@dataclass(frozen=True, slots=True)
class CopiedSums:
    """A batch's all-time and monthly rows, in COPY text format (:func:`copy_text`)."""

    totals: bytes
    monthly: bytes


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                               "\r": "\\r", "\t": "\\t", "\v": "\\v"})
_TO_ESCAPE = re.compile(r"[\\\b\f\r\v]")
"""What needs escaping in COPY text besides tabs and newlines (those are counted)."""


def copy_text(rows: Sequence[Row]) -> bytes:
    """``rows`` (of strings and integers) in PostgreSQL's COPY text format, as psycopg's
    ``write_row`` sends them. Codes and numbers never need escaping: the rows are joined
    as they are, and made again value by value, escaped, only if the result shows a tab,
    a newline or a backslash of their own."""
    text = "".join(["\t".join(map(str, row)) + "\n" for row in rows])
    separators = sum(len(row) for row in rows)  # a tab after each value, a newline last
    if text.count("\t") + text.count("\n") != separators or _TO_ESCAPE.search(text):
        text = "".join([
            "\t".join(v.translate(_COPY_ESCAPES) if isinstance(v, str) else str(v)
                      for v in row) + "\n" for row in rows])
    return text.encode()


class BulkStatements(Protocol):
    """The hot tables' writes and lookups, compiled for one generation and database."""

    @property
    def copied_sums(self) -> Callable[[Connection, CopiedSums], None] | None:
        """Adds a batch's sums made ahead as COPY text, the same as :meth:`upsert_totals`
        and :meth:`upsert_monthly` of their rows; ``None`` where the database takes rows
        only."""

    def upsert_totals(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Add all-time rows (TOTAL_KEYS, amounts) to what is stored."""

    def upsert_monthly(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Add monthly rows (MONTHLY_KEYS, amounts) to what is stored."""

    def insert_activities(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Insert new activities (ACTIVITY_KEYS, amounts)."""

    def update_activities(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Set (retracted, amounts..., event_id) of activities already stored."""

    def stored_activities(self, conn: Connection, ids: Collection[str]) -> set[str]:
        """Which of ``ids`` are stored activities (a batch asks for thousands)."""


def bulk_statements(tables: GenerationTables, engine: Engine) -> BulkStatements:
    if engine.dialect.name == "sqlite":
        return SqliteBulk(tables, engine)
    return PostgresBulk(tables, engine)


def _cursor_executemany(conn: Connection, statement: str, rows: Sequence[Row]) -> None:
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()


def _positional(engine: Engine) -> Any:
    dialect = engine.dialect
    if dialect.paramstyle in ("qmark", "format"):
        return dialect
    return type(dialect)(paramstyle="format")  # type: ignore[call-arg]


def _compiled(statement: Any, dialect: Any, order: Sequence[str]) -> str:
    """Driver SQL whose positional parameters are exactly ``order``."""
    done = statement.compile(dialect=dialect)
    if tuple(done.positiontup or ()) != tuple(order):
        raise AssertionError(f"parameter order {done.positiontup} != {tuple(order)}")
    return str(done)


def _adding(insert: Any, table: Table, keys: Sequence[str]) -> Any:
    """``ON CONFLICT (keys) DO UPDATE SET amount = amount + excluded.amount``, per indicator."""
    return insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={code: table.c[code] + insert.excluded[code] for code in INDICATORS})


def _update_activity(tables: GenerationTables, dialect: Any) -> str:
    activities = tables.activities
    return _compiled(
        activities.update().where(activities.c.event_id == bindparam("event_id"))
        .values({c: bindparam(c) for c in ("retracted", *INDICATORS)}),
        dialect, ("retracted", *INDICATORS, "event_id"))


LOOKUP_CHUNK = 500
"""Ids per ``IN (...)`` lookup on SQLite (its default limit is 32,766 parameters)."""


class SqliteBulk:
    copied_sums: Callable[[Connection, CopiedSums], None] | None = None

    def __init__(self, tables: GenerationTables, engine: Engine) -> None:
        dialect = _positional(engine)
        event_id = tables.activities.c.event_id
        names = [f"id{i}" for i in range(LOOKUP_CHUNK)]
        self._lookup = _compiled(
            select(event_id).where(event_id.in_([bindparam(n) for n in names])), dialect, names)

        def upsert(table: Table, keys: Sequence[str]) -> str:
            columns = [*keys, *INDICATORS]
            insert = sqlite.insert(table).values({c: bindparam(c) for c in columns})
            return _compiled(_adding(insert, table, keys), dialect, columns)

        columns = [*ACTIVITY_KEYS, *INDICATORS]
        self._totals = upsert(tables.totals, TOTAL_KEYS)
        self._monthly = upsert(tables.monthly, MONTHLY_KEYS)
        self._insert = _compiled(
            tables.activities.insert().values({c: bindparam(c) for c in columns}),
            dialect, columns)
        self._update = _update_activity(tables, dialect)

    def upsert_totals(self, conn: Connection, rows: Sequence[Row]) -> None:
        _cursor_executemany(conn, self._totals, rows)

    def upsert_monthly(self, conn: Connection, rows: Sequence[Row]) -> None:
        _cursor_executemany(conn, self._monthly, rows)

    def insert_activities(self, conn: Connection, rows: Sequence[Row]) -> None:
        _cursor_executemany(conn, self._insert, rows)

    def update_activities(self, conn: Connection, rows: Sequence[Row]) -> None:
        _cursor_executemany(conn, self._update, rows)

    def stored_activities(self, conn: Connection, ids: Collection[str]) -> set[str]:
        listed = list(ids)
        found: set[str] = set()
        cursor = conn.connection.cursor()
        try:
            for start in range(0, len(listed), LOOKUP_CHUNK):
                chunk = listed[start:start + LOOKUP_CHUNK]
                chunk += [chunk[0]] * (LOOKUP_CHUNK - len(chunk))  # repeats change nothing
                found.update(row[0] for row in cursor.execute(self._lookup, chunk))
        finally:
            cursor.close()
        return found


class _Staged:
    """COPY into a temporary table (made on first use per connection, emptied at commit),
    then merge it into ``table`` with one statement.

    The merge reads the staged rows in key order, the order of the primary key it adds
    them to: its B-tree is walked once from one end to the other instead of at random.
    """

    def __init__(self, table: Table, keys: Sequence[str], dialect: Any) -> None:
        self.columns = [*keys, *INDICATORS]
        stage = Table(f"stage_{table.name}", table.metadata.__class__(),
                      *(copy_column(c) for c in table.columns if c.name in self.columns),
                      prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")
        self.create = str(CreateTable(stage, if_not_exists=True).compile(dialect=dialect))
        pgsql = _pgsql()
        self.clear = pgsql.SQL("DELETE FROM {}").format(pgsql.Identifier(stage.name))
        """Empty at the start of every transaction (emptied at commit); a batch cut at its
        period events merges twice in one, so the rows of the part before go."""
        self.copy = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(stage.name), pgsql.SQL(", ").join(map(pgsql.Identifier, self.columns)))
        insert = postgresql.insert(table).from_select(
            self.columns,
            select(*(stage.c[c] for c in self.columns)).order_by(*(stage.c[k] for k in keys)))
        self.merge = str(_adding(insert, table, keys).compile(dialect=dialect))

    def write(self, conn: Connection, rows: Sequence[Row] | bytes) -> None:
        """Merge ``rows``, or the same rows as COPY text."""
        cursor: Any = conn.connection.cursor()
        try:
            cursor.execute(self.create)
            cursor.execute(self.clear)
            with cursor.copy(self.copy) as copy:
                if isinstance(rows, bytes):
                    copy.write(rows)
                else:
                    for row in rows:
                        copy.write_row(row)
            cursor.execute(self.merge)
        finally:
            cursor.close()


class PostgresBulk:
    def __init__(self, tables: GenerationTables, engine: Engine) -> None:
        dialect = _positional(engine)
        self._totals = _Staged(tables.totals, TOTAL_KEYS, dialect)
        self._monthly = _Staged(tables.monthly, MONTHLY_KEYS, dialect)
        pgsql = _pgsql()
        self._copy_activities = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(tables.activities.name),
            pgsql.SQL(", ").join(map(pgsql.Identifier, [*ACTIVITY_KEYS, *INDICATORS])))
        self._update = _update_activity(tables, dialect)
        event_id = tables.activities.c.event_id
        self._lookup = _compiled(
            select(event_id).where(event_id == any_(bindparam("ids"))),
            dialect, ["ids"])

    def upsert_totals(self, conn: Connection, rows: Sequence[Row]) -> None:
        self._totals.write(conn, rows)

    def upsert_monthly(self, conn: Connection, rows: Sequence[Row]) -> None:
        self._monthly.write(conn, rows)

    def copied_sums(self, conn: Connection, sums: CopiedSums) -> None:
        if sums.totals:
            self._totals.write(conn, sums.totals)
        if sums.monthly:
            self._monthly.write(conn, sums.monthly)

    def insert_activities(self, conn: Connection, rows: Sequence[Row]) -> None:
        cursor: Any = conn.connection.cursor()
        try:
            with cursor.copy(self._copy_activities) as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()

    def update_activities(self, conn: Connection, rows: Sequence[Row]) -> None:
        _cursor_executemany(conn, self._update, rows)

    def stored_activities(self, conn: Connection, ids: Collection[str]) -> set[str]:
        cursor: Any = conn.connection.cursor()
        try:
            return {row[0] for row in cursor.execute(self._lookup, [list(ids)])}
        finally:
            cursor.close()
