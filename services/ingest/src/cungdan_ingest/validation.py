"""Turn a raw report into a valid :class:`ActivityReport` or a list of field problems.

Pure: the gazetteer and today's date are passed in. Structure, catalogs and
quantities are checked by the contract model; the rules that need the
gazetteer or the clock (date not in the future nor before the earliest map known,
locality in force on the date in the map in force then) are checked here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cungdan_contracts import (
    ActivityReport,
    AdminMap,
    Gazetteer,
    Locality,
    map_for_date,
    report_from_json,
)
from cungdan_contracts.localities import EARLIEST_MAP_DATE

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str
    kind: str = "invalid"
    """A short machine-readable code of the reason (for metrics), e.g. ``unknown_indicator``."""

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ValidReport:
    report: ActivityReport
    map: AdminMap
    province: str


def today_in_vietnam(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(VIETNAM).date()


def problems_of(error: ValidationError) -> list[FieldProblem]:
    """One problem per pydantic error, naming the field as a dotted path."""
    problems = []
    for err in error.errors(include_url=False):
        path = [str(part) for part in err["loc"] if part != "[key]"]
        ctx = err.get("ctx") or {}
        if err["type"] == "too_precise" and "indicator" in ctx:
            path.append(str(ctx["indicator"]))
        problems.append(FieldProblem(".".join(path) or "(body)", err["msg"], err["type"]))
    return problems


def validate_report(
    raw: Any, gazetteer: Gazetteer, today: dt.date
) -> ValidReport | list[FieldProblem]:
    if not isinstance(raw, dict):
        return [FieldProblem("(body)", "a report must be a JSON object", "not_an_object")]
    try:
        report = report_from_json(raw)  # v1 (no "version") or v2, as the current shape
    except ValidationError as exc:
        return problems_of(exc)
    except ValueError as exc:  # an unsupported "version"
        return [FieldProblem("version", str(exc), "unsupported_version")]
    if report.date > today:  # the locality is checked in the map of a valid date only
        return [FieldProblem(
            "date", f"{report.date} is in the future (today is {today} in Vietnam)",
            "future_date")]
    if report.date < EARLIEST_MAP_DATE:  # likewise
        return [FieldProblem(
            "date", f"no administrative map is known for {report.date} "
                    f"(the earliest is of {EARLIEST_MAP_DATE})", "no_map")]
    admin_map = map_for_date(report.date)
    loc = gazetteer.get(admin_map, report.locality)
    if loc is None:
        return [FieldProblem(
            "locality",
            f"unknown locality '{report.locality}' in the {admin_map.value} map, "
            f"the map in force on {report.date}", "unknown_locality")]
    if not loc.in_force_on(report.date):
        return [FieldProblem(
            "locality",
            f"locality '{report.locality}' did not exist on {report.date} in the "
            f"{admin_map.value} map (it existed {_lifetime(loc)})", "unknown_locality")]
    return ValidReport(report, admin_map, gazetteer.province_of(admin_map, report.locality))


def _lifetime(loc: Locality) -> str:
    """'from 2021-02-04', 'until 2025-02-28' or both: the days the gazetteer knows it (the
    bounds of its official lists, docs/legacy-history.md)."""
    parts = []
    if loc.valid_from is not None:
        parts.append(f"from {loc.valid_from}")
    if loc.valid_until is not None:
        parts.append(f"until {loc.valid_until - dt.timedelta(days=1)}")
    return " ".join(parts)
