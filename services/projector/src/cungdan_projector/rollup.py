"""Rollup rules: what one event adds to which totals. Pure functions, no I/O.

An event adds each of its quantities to its own locality and to every
locality above it in the map of its date (commune -> district -> province ->
nation), under its campaign, indicator and day. Quantities become integer
counts of ``10**-scale`` units of their indicator, so sums are exact.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from cungdan_contracts import INDICATORS, ActivityLogged, AdminMap, Gazetteer, to_units

PROJECTION_VERSION = 1
"""Version of these rules: raise it when they change, and the projector rebuilds on start."""


class TotalKey(NamedTuple):
    map: AdminMap
    locality: str
    campaign: str
    indicator: str
    day: dt.date


def contributions(event: ActivityLogged, gazetteer: Gazetteer) -> Counter[TotalKey]:
    """The amounts (in indicator units) that ``event`` adds, keyed by total."""
    activity = event.activity
    path = gazetteer.ancestors(event.map, activity.locality)
    added: Counter[TotalKey] = Counter()
    for indicator, quantity in activity.measures.items():
        units = to_units(quantity, INDICATORS[indicator].scale)
        for locality in path:
            key = TotalKey(event.map, locality, activity.campaign, indicator, activity.date)
            added[key] += units
    return added


def aggregate(events: Iterable[ActivityLogged], gazetteer: Gazetteer) -> Counter[TotalKey]:
    """All contributions of a batch, summed per total: one write per total per batch."""
    summed: Counter[TotalKey] = Counter()
    for event in events:
        summed.update(contributions(event, gazetteer))
    return summed
