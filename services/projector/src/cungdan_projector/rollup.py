"""Rollup rules: what an activity adds to which totals, and how a change moves them.
Pure functions, no I/O.

An activity adds each of its quantities to its own locality and to every
locality above it in the map of its date (commune -> district -> province ->
nation), under its campaign, indicator and day. Quantities become integer
counts of ``10**-scale`` units of their indicator, so sums are exact.

A correction replaces the activity's measures as a whole: the totals move by
the new contributions minus the old ones. A retraction takes the old ones away.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from cungdan_contracts import INDICATORS, ActivityLogged, AdminMap, Gazetteer, to_units

PROJECTION_VERSION = 2
"""Version of these rules: raise it when they change, and the projector rebuilds on start.
(2: corrections and retractions.)"""


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


def corrected(facts: Facts, measures: Mapping[str, int]) -> tuple[Facts, Counter[TotalKey]]:
    """The activity after a correction, and how the totals move (may be negative)."""
    if facts.retracted:  # a retraction is final
        return facts, Counter()
    after = replace(facts, measures=dict(measures))
    return after, _difference(contributions(after), contributions(facts))


def retracted(facts: Facts) -> tuple[Facts, Counter[TotalKey]]:
    """The activity withdrawn, and how the totals move (its contributions taken away)."""
    after = replace(facts, retracted=True)
    return after, _difference(Counter(), contributions(facts))


def _difference(new: Counter[TotalKey], old: Counter[TotalKey]) -> Counter[TotalKey]:
    moved: Counter[TotalKey] = Counter()
    for key in new.keys() | old.keys():
        delta = new.get(key, 0) - old.get(key, 0)
        if delta:
            moved[key] = delta
    return moved


def aggregate(activities: Iterable[Facts]) -> Counter[TotalKey]:
    """All contributions of a batch, summed per total: one write per total per batch."""
    summed: Counter[TotalKey] = Counter()
    for facts in activities:
        summed.update(contributions(facts))
    return summed
