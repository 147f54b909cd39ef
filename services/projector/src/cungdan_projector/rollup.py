"""Rollup rules: what an activity adds to which totals. Pure functions, no I/O.

An activity adds each of its quantities to its own locality and to every
locality above it in the map of its date (commune -> district -> province ->
nation), under its campaign, indicator and day. Quantities become integer
counts of ``10**-scale`` units of their indicator, so sums are exact.

A change to an activity (:mod:`cungdan_contracts.lifecycle`) moves the totals by
its new contributions minus its old ones (:mod:`.fold`).

:func:`contributions` states the rule one total at a time; :class:`Tally` sums the
same contributions the way the tables store them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from cungdan_contracts import INDICATORS, ActivityLogged, AdminMap, Gazetteer, to_units

PROJECTION_VERSION = 3
"""Version of these rules and of the tables they fill: raise it when they change, and the
projector rebuilds on start. (2: corrections and retractions; 3: wide rows, all-time and
monthly.)"""


class TotalKey(NamedTuple):
    map: AdminMap
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


def units_of(measures: Mapping[str, Decimal]) -> dict[str, int]:
    return {code: to_units(q, INDICATORS[code].scale) for code, q in measures.items()}


def facts_of(event: ActivityLogged, gazetteer: Gazetteer) -> Facts:
    """Raises KeyError for a locality the gazetteer does not know in the event's map."""
    activity = event.activity
    return Facts(event.map, gazetteer.ancestors(event.map, activity.locality),
                 activity.campaign, activity.date, units_of(activity.measures))


def contributions(facts: Facts) -> Counter[TotalKey]:
    """The amounts (in indicator units) an activity adds, keyed by total."""
    added: Counter[TotalKey] = Counter()
    if facts.retracted:
        return added
    for indicator, units in facts.measures.items():
        for locality in facts.path:
            added[TotalKey(facts.map, locality, facts.campaign, indicator, facts.day)] += units
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
