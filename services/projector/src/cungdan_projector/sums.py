"""The read side's SUM statements, built once per shape and reused with new parameters.

A totals read of a 2025 province sums ~100 localities over 25 indicator columns. Building
that SELECT anew for every request (25 ``func.sum`` objects, the IN list, the cache key)
cost more than the query itself; a statement made once with bound parameters is only
looked up, and SQLAlchemy's compiled cache does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, false, func, select

CONDITIONS: dict[str, Callable[[Table], ColumnElement[bool]]] = {
    "campaign": lambda t: t.c.campaign == bindparam("campaign"),
    "localities": lambda t: t.c.locality.in_(bindparam("localities", expanding=True)),
    "from_month": lambda t: t.c.month >= bindparam("from_month"),
    "to_month": lambda t: t.c.month <= bindparam("to_month"),
    "days": lambda t: t.c.day.between(bindparam("day_from"), bindparam("day_to")),
    "counted": lambda t: t.c.retracted == false(),
    "provinces": lambda t: t.c.province.in_(bindparam("provinces", expanding=True)),
}
"""Each filter a read may apply, by name; its parameters are named like it (``days``:
``day_from`` and ``day_to``). Every statement also filters on ``map``."""


@lru_cache(maxsize=1024)
def sums_by(table: Table, group: str, columns: tuple[str, ...],
            conditions: frozenset[str]) -> Select[Any]:
    """``SELECT group, SUM(c) for c in columns FROM table WHERE map = :map AND
    <conditions> GROUP BY group``."""
    return (select(table.c[group], *(func.sum(table.c[c]) for c in columns))
            .where(table.c.map == bindparam("map"),
                   *(CONDITIONS[name](table) for name in sorted(conditions)))
            .group_by(table.c[group]))
