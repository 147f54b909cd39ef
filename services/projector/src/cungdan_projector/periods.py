"""Reporting periods: a year, quarter or month as an inclusive date range. Pure."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from cungdan_contracts.period_dates import period_range

__all__ = ["RangePlan", "period_range", "plan_range"]


@dataclass(frozen=True, slots=True)
class RangePlan:
    """How to sum a date range: whole months from the monthly totals, the days of months
    the range cuts through from the activities themselves."""

    months: tuple[int | None, int | None] | None
    """Inclusive (first, last) ``YYYYMM``, ``None`` for unbounded; ``None``: no whole month."""
    days: tuple[tuple[dt.date, dt.date], ...]
    """Inclusive day ranges outside whole months (at most two)."""


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _month_key(year: int, month: int) -> int:
    return year * 100 + month


def plan_range(date_from: dt.date | None, date_to: dt.date | None) -> RangePlan:
    """Split ``[date_from, date_to]`` (either end open) into whole months and edge days."""
    if date_from and date_to and (date_from.year, date_from.month) == (date_to.year, date_to.month):
        if date_from.day == 1 and date_to == _month_end(date_to):
            month = _month_key(date_to.year, date_to.month)
            return RangePlan((month, month), ())
        return RangePlan(None, ((date_from, date_to),))
    first: int | None = None
    last: int | None = None
    days: list[tuple[dt.date, dt.date]] = []
    if date_from is not None:
        if date_from.day == 1:
            first = _month_key(date_from.year, date_from.month)
        else:
            days.append((date_from, _month_end(date_from)))
            after = _month_end(date_from) + dt.timedelta(days=1)
            first = _month_key(after.year, after.month)
    if date_to is not None:
        if date_to == _month_end(date_to):
            last = _month_key(date_to.year, date_to.month)
        else:
            days.append((date_to.replace(day=1), date_to))
            before = date_to.replace(day=1) - dt.timedelta(days=1)
            last = _month_key(before.year, before.month)
    whole = None if first is not None and last is not None and first > last else (first, last)
    return RangePlan(whole, tuple(days))
