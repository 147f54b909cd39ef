"""The committee page's view and tables: its URL (:class:`ViewQuery`, the parameters of
``GET /v1/totals``) and tables of exact numbers that the page, the CSV and the XLSX all
render (so they show the same numbers). Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from cungdan_contracts import (
    AdminMap,
)

from .vnformat import vn_date, vn_number

Cell = Decimal | int | str | dt.date | bool | None


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """A view's URL parameters, those of ``GET /v1/totals/{locality}``."""

    code: str
    map: AdminMap = AdminMap.Y2025
    campaign: str | None = None
    indicator: str | None = None
    period: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    as_closed: bool = False
    """The figures as the period was closed (``closing``: that closing, else the last)."""
    closing: int | None = None

    def params(self) -> dict[str, str]:
        found = {"map": self.map.value, "campaign": self.campaign,
                 "indicator": self.indicator, "period": self.period,
                 "from": self.date_from.isoformat() if self.date_from else None,
                 "to": self.date_to.isoformat() if self.date_to else None,
                 "as_closed": "true" if self.as_closed else None,
                 "closing": str(self.closing) if self.closing is not None else None}
        return {k: v for k, v in found.items() if v}

    def url(self, code: str | None = None, suffix: str = "", **changes: Any) -> str:
        """The URL of this view, of ``code`` with the same filters, or of a table's export
        (``suffix``: ``/children.csv``)."""
        query = replace(self, **changes) if changes else self
        return f"/ui/{code or self.code}{suffix}?{query_string(query)}"


@lru_cache(maxsize=256)
def query_string(query: ViewQuery) -> str:
    return urlencode(query.params())


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    unit: str = ""
    numeric: bool = False

    @property
    def heading(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[Cell, ...]
    link: str | None = None
    """The view one level down (the first text cell is the link)."""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    """Its name in export URLs and file names."""
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def records(self) -> list[list[Cell]]:
        return [list(r.cells) for r in self.rows]


def cell_text(cell: Cell) -> str:
    """A cell as the page shows it (Vietnamese number style)."""
    if cell is None:
        return "—"
    if isinstance(cell, bool):
        return "Đã báo cáo" if cell else "Chưa báo cáo"
    if isinstance(cell, Decimal | int):
        return vn_number(cell)
    if isinstance(cell, dt.date):
        return vn_date(cell)
    return cell


def cell_value(cell: Cell) -> str:
    """A cell as a machine reads it (sorting, tests): exact and unformatted."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)
