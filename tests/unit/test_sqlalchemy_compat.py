"""A column copied by SQLAlchemy's ``Column._copy()`` and one rebuilt from its public
attributes (``cungdan_projector.sqlalchemy_compat``) make the same tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateTable

from cungdan_projector import sqlalchemy_compat
from cungdan_projector.schema import generation_tables
from cungdan_projector.sqlalchemy_compat import copy_column, rebuilt_column
from cungdan_service.versions import VersionsTested

DIALECTS = [postgresql.dialect(), sqlite.dialect()]


def _tables() -> list[Table]:
    tables = generation_tables(7)
    return [t for t in (getattr(tables, f.name) for f in dataclasses.fields(tables))
            if isinstance(t, Table)]


def _staged(table: Table, copy: Callable[[Column[Any]], Column[Any]], dialect: Dialect) -> str:
    """The CREATE TABLE of a temporary table of ``table``'s columns, as the bulk writer
    stages rows."""
    stage = Table(f"stage_{table.name}", MetaData(), *(copy(c) for c in table.columns),
                  prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")
    return str(CreateTable(stage, if_not_exists=True).compile(dialect=dialect))


def _private_copy(column: Column[Any]) -> Column[Any]:
    copied: Column[Any] = column._copy()
    return copied


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@pytest.mark.parametrize("table", _tables(), ids=lambda t: t.name)
def test_both_copies_make_the_same_table(table: Table, dialect: Dialect) -> None:
    private = _staged(table, _private_copy, dialect)
    assert private == _staged(table, rebuilt_column, dialect)
    assert private == _staged(table, copy_column, dialect)


def test_odd_columns_the_rebuild_carries_over() -> None:
    table = Table(
        "odd", MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False, comment="the key"),
        Column("flag", Boolean, nullable=True, server_default=text("false")),
        Column("kind", String(8), key="k", default="x", unique=True, index=True),
        Column("n", BigInteger, nullable=False, server_default="0", info={"deferred": True}),
    )
    for dialect in DIALECTS:
        assert _staged(table, _private_copy, dialect) == _staged(table, rebuilt_column, dialect)
    rebuilt = rebuilt_column(table.c.k)
    assert (rebuilt.key, rebuilt.default is not None and rebuilt.default.arg) == ("k", "x")
    assert rebuilt_column(table.c.n).info == {"deferred": True}
    assert rebuilt_column(table.c.n).table is None  # free for another table


@pytest.mark.parametrize("column", [
    Column("a", Integer, ForeignKey("other.id")),
    Column("b", Integer, CheckConstraint("b > 0")),
    Column("c", Integer, Computed("1 + 1")),
    Column("d", Integer, default=lambda: 1),
    Column("e", Integer, onupdate=1),
])
def test_what_the_rebuild_would_drop_is_refused(column: Column[Any]) -> None:
    with pytest.raises(ValueError, match="cannot rebuild"):
        rebuilt_column(column)


def test_the_installed_sqlalchemy_is_one_tested() -> None:
    """An upgrade past SQLALCHEMY fails here (the rebuild would be used: same tables)."""
    assert sqlalchemy_compat._use_copy()


def test_an_untested_sqlalchemy_gets_the_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlalchemy_compat, "SQLALCHEMY",
                        VersionsTested("sqlalchemy", (1, 0), (1, 0)))
    calls: list[str] = []
    monkeypatch.setattr(Column, "_copy", lambda self: calls.append(self.name))
    copied = copy_column(Column("x", Integer, nullable=False))
    assert calls == [] and copied.name == "x" and copied.nullable is False
