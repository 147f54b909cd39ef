"""Reporting periods as dates: ``2023``, ``2023-Q2``, ``2023-04``. Pure functions, no models
(the projector's writer uses them without loading pydantic); :mod:`.periods` re-exports them
with the period events."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from .localities import AdminMap, map_for_date

PERIOD_PATTERN = r"^[0-9]{4}(-(Q[1-4]|0[1-9]|1[0-2]))?$"
_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?")


def period_range(period: str) -> tuple[dt.date, dt.date]:
    """``2023`` / ``2023-Q2`` / ``2023-04`` -> (first day, last day); ValueError else."""
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise ValueError(f"'{period}' is not a period (use YYYY, YYYY-Qn or YYYY-MM)")
    year = int(match["year"])
    if match["quarter"]:
        first_month = 3 * int(match["quarter"]) - 2
        last_month = first_month + 2
    elif match["month"]:
        first_month = last_month = int(match["month"])
    else:
        first_month, last_month = 1, 12
    last_day = calendar.monthrange(year, last_month)[1]
    return dt.date(year, first_month, 1), dt.date(year, last_month, last_day)


def periods_of(day: dt.date) -> tuple[str, str, str]:
    """The year, quarter and month ``day`` lies in: every period that can hold it."""
    return (f"{day.year:04d}", f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}",
            f"{day.year:04d}-{day.month:02d}")


def default_map(period: str) -> AdminMap:
    """The map in force on the period's first day (``map`` when a request names none)."""
    return map_for_date(period_range(period)[0])
