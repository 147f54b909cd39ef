"""Rollup rules: what an activity adds to which totals. Pure functions, no I/O.

An activity adds each of its quantities to its own locality and to every
locality above it in the map of its date (commune -> district -> province ->
nation), under its campaign, indicator and day. Quantities become integer
counts of ``10**-scale`` units of their indicator, so sums are exact.

A change to an activity (:mod:`cungdan_contracts.lifecycle`) moves the totals by
its new contributions minus its old ones (:mod:`.fold`).

A legacy-map activity also adds, once, to its *entry* on the 2025 map
(:func:`entry_of`): under :data:`CONVERTED`, the 2025 commune its locality became part
of whole; else under :data:`UNATTRIBUTED`, its own legacy locality (a commune split
among several 2025 communes or gone before the reform, or a district or province
reporting at its own level). Entries are kept all-time only (no monthly rows: one row
more per legacy activity, not two): an all-time 2025 view reads them (:mod:`.reform`), a
dated one converts the legacy rows themselves.

:func:`contributions` states the rule one total at a time; :class:`Tally` sums the
same contributions the way the tables store them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from cungdan_contracts import INDICATORS, NATION, AdminMap
from cungdan_contracts.conversion import load_conversion

PROJECTION_VERSION = 5
"""Version of these rules and of the tables they fill: raise it when they change, and the
projector rebuilds on start. (2: corrections and retractions; 3: wide rows, all-time and
monthly; 4: legacy activities' entries on the 2025 map; 5: closings of reporting periods,
their frozen figures, control totals and late amendments.)"""

CONVERSION_VERSION = "vietnamadminunits 1.0.4 + cungdan rules 1"
"""The conversion (:func:`cungdan_contracts.conversion.load_conversion`) the entries of
:data:`PROJECTION_VERSION` were made with. A new one (a new vietnamadminunits, new rules)
must raise ``PROJECTION_VERSION`` too: a test fails until it does."""

CONVERTED = "L>2025"
"""The ``map`` of totals rows of legacy activities by the 2025 commune they converted to."""
UNATTRIBUTED = "L>2025?"
"""The ``map`` of totals rows of legacy activities no 2025 commune takes, by their own
legacy locality."""


def entry_of(legacy_locality: str) -> tuple[str, str] | None:
    """Where a legacy activity of ``legacy_locality`` adds on the 2025 map, besides its
    2025 province: ``(CONVERTED, 2025 commune)`` or ``(UNATTRIBUTED, legacy_locality)``;
    None for a report of the nation itself."""
    if legacy_locality == NATION:
        return None
    return _converted().get(legacy_locality) or (UNATTRIBUTED, legacy_locality)


@cache
def _converted() -> dict[str, tuple[str, str]]:
    """Each legacy unit that became part of a 2025 commune whole -> its entry (made once:
    :func:`entry_of` runs for every legacy activity)."""
    return {old: (CONVERTED, new) for old, new in load_conversion().whole.items()}


class TotalKey(NamedTuple):
    map: str
    """An :class:`AdminMap`, or :data:`CONVERTED` / :data:`UNATTRIBUTED`."""
    locality: str
    campaign: str
    indicator: str
    day: dt.date


@dataclass(frozen=True, slots=True)
class Facts:
    """What the totals need to know of one activity, to add it or to change it later."""

    map: AdminMap
    path: tuple[str, ...]
    """Its locality and every locality above it."""
    campaign: str
    day: dt.date
    measures: Mapping[str, int]
    """Indicator -> units."""
    retracted: bool = False


def contributions(facts: Facts) -> Counter[TotalKey]:
    """The amounts (in indicator units) an activity adds, keyed by total."""
    added: Counter[TotalKey] = Counter()
    if facts.retracted:
        return added
    entry = entry_of(facts.path[0]) if facts.map is AdminMap.LEGACY else None
    keys = [(facts.map.value, locality) for locality in facts.path] + ([entry] if entry else [])
    for indicator, units in facts.measures.items():
        for admin_map, locality in keys:
            added[TotalKey(admin_map, locality, facts.campaign, indicator, facts.day)] += units
    return added


OVERALL = 0
"""The ``month`` of an all-time total in a :class:`Tally`."""

INDICATOR_INDEX = {code: i for i, code in enumerate(INDICATORS)}
"""Position of each indicator's amount in a wide row (catalog order)."""


def month_of(day: dt.date) -> int:
    """``2023-04-15`` -> ``202304``."""
    return day.year * 100 + day.month


class Tally:
    """The same contributions as :func:`contributions`, summed the way they are stored:
    one row of amounts (catalog order) per (map, locality, campaign) all-time, and per
    (map, locality, month ``YYYYMM``, campaign). Built for speed: a batch of thousands of
    activities folds into a few rows per locality, and each row is already the tuple of
    values the database takes (its key, then its amounts)."""

    __slots__ = ("monthly", "overall")

    def __init__(self) -> None:
        self.overall: dict[tuple[str, str, str], list[Any]] = {}
        self.monthly: dict[tuple[str, str, int, str], list[Any]] = {}

    def add(self, facts: Facts, sign: int = 1) -> None:
        """Count an activity (``sign=-1``: take it away)."""
        if facts.retracted:
            return
        amounts = [(INDICATOR_INDEX[code], sign * units)
                   for code, units in facts.measures.items() if units]
        if not amounts:
            return
        admin_map, campaign, month = facts.map.value, facts.campaign, month_of(facts.day)
        overall, monthly, zeros = self.overall, self.monthly, _ZEROS
        for locality in facts.path:
            key = (admin_map, locality, campaign)
            row = overall.get(key)
            if row is None:
                row = overall[key] = [*key, *zeros]
            for index, units in amounts:
                row[3 + index] += units
            month_key = (admin_map, locality, month, campaign)
            row = monthly.get(month_key)
            if row is None:
                row = monthly[month_key] = [*month_key, *zeros]
            for index, units in amounts:
                row[4 + index] += units
        if facts.map is AdminMap.LEGACY and (entry := entry_of(facts.path[0])):
            key = (*entry, campaign)  # all-time only: dated reads convert legacy rows
            row = overall.get(key)
            if row is None:
                row = overall[key] = [*key, *zeros]
            for index, units in amounts:
                row[3 + index] += units

    def totals(self) -> dict[tuple[str, str, int, str], dict[str, int]]:
        """Every row as (map, locality, month or :data:`OVERALL`, campaign) -> the nonzero
        amounts by indicator (for tests and diagnosis)."""
        out: dict[tuple[str, str, int, str], dict[str, int]] = {}
        for (admin_map, locality, campaign), row in self.overall.items():
            out[(admin_map, locality, OVERALL, campaign)] = _named(row[3:])
        for key, row in self.monthly.items():
            out[key] = _named(row[4:])
        return {key: amounts for key, amounts in out.items() if amounts}


_ZEROS = (0,) * len(INDICATOR_INDEX)


def _named(amounts: list[int]) -> dict[str, int]:
    return {code: amounts[i] for code, i in INDICATOR_INDEX.items() if amounts[i]}


def aggregate(activities: Iterable[Facts]) -> Counter[TotalKey]:
    """All contributions of a batch, summed per total: one write per total per batch."""
    summed: Counter[TotalKey] = Counter()
    for facts in activities:
        summed.update(contributions(facts))
    return summed
