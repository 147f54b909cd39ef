"""A column copied for another table: SQLAlchemy's ``Column._copy()``, or the same built
from public attributes.

The bulk writer stages rows in a temporary table made of some of a read-model table's
columns; a column belongs to one table, so each is copied. SQLAlchemy's ``_copy()``
(what ``Table.to_metadata`` uses) copies everything a column carries, but is private:
it is used with a SQLAlchemy version it was tested with (:data:`SQLALCHEMY`), and
otherwise the column is rebuilt from its public attributes, which gives the same
``CREATE TABLE`` for every column of the projector's tables
(``tests/unit/test_sqlalchemy_compat.py``). The rebuild refuses what it does not copy
(foreign keys, constraints, computed and identity columns, Python-side callables) rather
than drop it. Either way, this runs when a table is set up, not per row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnDefault, DefaultClause, FetchedValue
from sqlalchemy.types import SchemaType

from cungdan_service.versions import VersionsTested

SQLALCHEMY = VersionsTested("sqlalchemy", (2, 1), (2, 1))
"""The SQLAlchemy versions whose ``Column._copy()`` was tested here."""


def _use_copy() -> bool:
    missing = [] if callable(getattr(Column, "_copy", None)) else ["Column._copy"]
    return SQLALCHEMY.allows("copy_column", missing)


def copy_column(column: Column[Any]) -> Column[Any]:
    """A copy of ``column``, not attached to any table."""
    if _use_copy():
        copied: Column[Any] = column._copy()
        return copied
    return rebuilt_column(column)


def _server_default(default: FetchedValue | None) -> FetchedValue | None:
    if default is None:
        return None
    if isinstance(default, DefaultClause):
        return DefaultClause(default.arg, for_update=default.for_update)
    if type(default) is FetchedValue:
        return FetchedValue(for_update=default.for_update)
    raise ValueError(f"copy_column cannot rebuild the server default {default!r}")


def rebuilt_column(column: Column[Any]) -> Column[Any]:
    """``column`` built anew from its public attributes (the fallback of
    :func:`copy_column`). Raises ValueError for what it would not carry over."""
    if (column.foreign_keys or column.constraints or column.computed is not None
            or column.identity is not None or column.onupdate is not None
            or column.server_onupdate is not None):
        raise ValueError(f"copy_column cannot rebuild column {column.name!r}: it has foreign "
                         "keys, constraints, a computed or identity value, or an update rule")
    default: Any = None
    if column.default is not None:
        if not (isinstance(column.default, ColumnDefault) and column.default.is_scalar):
            raise ValueError(f"copy_column cannot rebuild the default of {column.name!r}")
        default = column.default.arg
    type_ = column.type.copy() if isinstance(column.type, SchemaType) else column.type
    copied: Column[Any] = Column(
        column.name, type_, key=column.key, primary_key=column.primary_key,
        nullable=column.nullable, unique=column.unique, index=column.index,
        autoincrement=column.autoincrement, system=column.system, default=default,
        server_default=_server_default(column.server_default), doc=column.doc,
        comment=column.comment, info=dict(column.info), **column.dialect_kwargs)
    return copied
