"""Reporting periods: a year, quarter or month as an inclusive date range. Pure."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?")


def period_range(period: str) -> tuple[dt.date, dt.date]:
    """``2023`` / ``2023-Q2`` / ``2023-04`` -> (first day, last day)."""
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
