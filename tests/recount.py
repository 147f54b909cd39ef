"""A period's figures recounted from the stream's events with nothing of the projector's
code: only the lifecycle rules (the last correction wins, a retraction is final) and the
gazetteer's ancestors. The closing tests compare what a closing froze with it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_contracts.periods import period_range

Figures = dict[tuple[str, str], dict[str, Decimal]]
"""(locality, campaign) -> indicator -> quantity."""


def recount(events: Iterable[tuple[int, Mapping[str, Any]]], upto: int, period: str,
            province: str, admin_map: AdminMap = AdminMap.LEGACY) -> Figures:
    """The figures of ``province`` and every locality in it for ``period``, from the events
    (sequence, decoded JSON, in stream order) before ``upto``; none of 0."""
    gazetteer = load_gazetteer()
    activities: dict[str, dict[str, Any]] = {}
    for seq, ev in events:
        if seq >= upto:
            break
        if ev["type"] == "ActivityLogged":
            activities[ev["activity"]["id"]] = {**ev["activity"], "retracted": False}
        elif ev["type"] == "ActivityCorrected":
            activity = activities[ev["activity_id"]]
            if not activity["retracted"]:
                activity["measures"] = ev["correction"]["measures"]
        elif ev["type"] == "ActivityRetracted":
            activities[ev["activity_id"]]["retracted"] = True
    first, last = period_range(period)
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal))
    for activity in activities.values():
        day = dt.date.fromisoformat(activity["date"])
        path = gazetteer.ancestors(admin_map, activity["locality"])
        if activity["retracted"] or not first <= day <= last or path[-2] != province:
            continue
        for locality in path[:-1]:
            for code, quantity in activity["measures"].items():
                sums[(locality, activity["campaign"])][code] += Decimal(str(quantity))
    return {key: {c: q for c, q in amounts.items() if q} for key, amounts in sums.items()
            if any(amounts.values())}


def of_locality(figures: Figures, locality: str) -> dict[str, Decimal]:
    """``locality``'s figures, all campaigns together; none of 0."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for (where, _), amounts in figures.items():
        if where == locality:
            for code, quantity in amounts.items():
                sums[code] += quantity
    return {code: q for code, q in sums.items() if q}


def decimals(totals: Mapping[str, str]) -> dict[str, Decimal]:
    """The API's quantities (decimal strings) as quantities."""
    return {code: Decimal(q) for code, q in totals.items()}
