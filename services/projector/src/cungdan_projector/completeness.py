"""Who has reported: per child of a locality, its reports, its last report's date and
whether it reported in a period, and the share of children that did.

:func:`reports_by` reads the active generation's activities (the only read here);
:func:`completeness` puts a locality's children together with what was read (pure).
Only the reports made on the map asked count: on the 2025 map, the legacy map's reports
are another map's units (a committee asks who reports now). Retracted reports do not
count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, and_, case, false, func, literal, select

from cungdan_contracts import Level, Locality

from .schema import generation_tables, generations


@dataclass(frozen=True, slots=True)
class Reports:
    """The reports of one place (a province, or a locality path) as read."""

    key: str
    """A province code, or a path (``commune,province,VN``)."""
    count: int
    last_day: dt.date | None
    in_period: int


@dataclass(frozen=True, slots=True)
class ChildReports:
    locality: Locality
    reports: int
    """Reports dated in the period."""
    reports_all_time: int
    last_report: dt.date | None
    """The date of its last report, whenever."""

    @property
    def reported(self) -> bool:
        return self.reports > 0


@dataclass(frozen=True, slots=True)
class Completeness:
    locality: Locality
    date_from: dt.date | None
    date_to: dt.date | None
    children: list[ChildReports]

    @property
    def reported_count(self) -> int:
        return sum(1 for c in self.children if c.reported)

    @property
    def share(self) -> float:
        """The share of children that reported in the period (1.0 without children)."""
        return self.reported_count / len(self.children) if self.children else 1.0

    def as_json(self) -> dict[str, object]:
        return {
            "locality": {"code": self.locality.code, "name": self.locality.name,
                         "level": self.locality.level.value},
            "period": {"from": _iso(self.date_from), "to": _iso(self.date_to)},
            "children": [{"code": c.locality.code, "name": c.locality.name,
                          "level": c.locality.level.value, "reports": c.reports,
                          "reports_all_time": c.reports_all_time,
                          "last_report": _iso(c.last_report), "reported": c.reported}
                         for c in self.children],
            "reported": self.reported_count, "children_count": len(self.children),
            "share": round(self.share, 4),
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def by_province(loc: Locality) -> bool:
    """Whether the children of ``loc`` are provinces (read grouped by province)."""
    return loc.level is Level.NATION


def completeness(loc: Locality, children: Sequence[Locality], rows: Iterable[Reports],
                 date_from: dt.date | None, date_to: dt.date | None) -> Completeness:
    """Each child's reports from the rows read for ``loc`` (:func:`reports_by`)."""
    codes = {c.code for c in children}
    count: dict[str, int] = dict.fromkeys(codes, 0)
    dated: dict[str, int] = dict.fromkeys(codes, 0)
    last: dict[str, dt.date] = {}
    for row in rows:
        if by_province(loc):
            code: str | None = row.key if row.key in codes else None
        else:
            code = next((c for c in row.key.split(",") if c in codes), None)
        if code is None:
            continue  # the locality's own reports, or another map's unit
        count[code] += row.count
        dated[code] += row.in_period
        if row.last_day is not None and (code not in last or row.last_day > last[code]):
            last[code] = row.last_day
    return Completeness(loc, date_from, date_to, [
        ChildReports(c, dated[c.code], count[c.code], last.get(c.code)) for c in children])


def reports_by(engine: Engine, admin_map: str, *, group_by_province: bool,
               provinces: Collection[str], campaign: str | None,
               date_from: dt.date | None, date_to: dt.date | None) -> list[Reports]:
    """Counted reports of ``admin_map`` (in ``provinces``, if any) grouped by province or
    by path: how many, the last date, and how many dated in ``[date_from, date_to]``."""
    with engine.connect() as conn:
        row = conn.execute(select(generations.c.generation)
                           .where(generations.c.status == "active")).first()
        if row is None:
            return []
        table = generation_tables(row.generation).activities
        key = table.c.province if group_by_province else table.c.path
        inside = [table.c.day >= date_from] if date_from else []
        inside += [table.c.day <= date_to] if date_to else []
        in_period = func.sum(case((and_(*inside), 1), else_=0)) if inside else func.count()
        query = (select(key, func.count(), func.max(table.c.day), in_period)
                 .where(table.c.map == literal(admin_map), table.c.retracted == false())
                 .group_by(key))
        if provinces:
            query = query.where(table.c.province.in_(list(provinces)))
        if campaign:
            query = query.where(table.c.campaign == campaign)
        return [Reports(str(k), int(n), _day(last), int(dated or 0))
                for k, n, last, dated in conn.execute(query)]


def _day(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))  # SQLite's MAX of a date column is text
