"""Generic machinery of the demo: report drafts, exact random splits, subsets, dates and
the communes of both maps.

Nothing here knows an article: the seed builders give the totals, units and places.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Final

from cungdan_contracts import AdminMap, Level, load_gazetteer
from cungdan_contracts.conversion import load_conversion

DEMO_NAMESPACE: Final = uuid.UUID("2d135495-56ca-5713-8c1a-e3a4f66801e1")

# Granularity of the random splits; whatever is not listed is counted in whole units.
_QUANTUM: Final[Mapping[str, Decimal]] = {
    "road_km": Decimal("0.1"),
    "lighting_km": Decimal("0.1"),
    "flower_road_km": Decimal("0.1"),
    "cleanup_road_km": Decimal("0.1"),
    "terraced_field_ha": Decimal("0.1"),
    "cement_tonnes": Decimal("0.5"),
    "donations_vnd": Decimal(100000),
}


@cache
def legacy_wards(district_code: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of the communes of one legacy district, in code order."""
    gazetteer = load_gazetteer()
    district = gazetteer.get(AdminMap.LEGACY, district_code)
    if district is None or district.level is not Level.DISTRICT:
        raise LookupError(f"no legacy district {district_code}")
    return tuple((c.code, c.name) for c in gazetteer.children(AdminMap.LEGACY, district_code))


@cache
def successor_communes(district_code: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of the 2025 communes made only of communes of one legacy district
    (each of its predecessors, by the official conversion, lies in that district), in
    code order."""
    gazetteer = load_gazetteer()
    conversion = load_conversion()
    wards = {code for code, _ in legacy_wards(district_code)}
    successors = sorted({conversion.whole[w] for w in wards if w in conversion.whole})
    found: list[tuple[str, str]] = []
    for code in successors:
        commune = gazetteer.get(AdminMap.Y2025, code)
        if commune is None or commune.level is not Level.COMMUNE:
            raise LookupError(f"no 2025 commune {code}")
        if set(conversion.predecessors(code)) <= wards:
            found.append((code, commune.name))
    return tuple(found)


@dataclass
class Draft:
    key: str
    campaign: str
    locality: str
    date: dt.date
    unit: str
    note: str = ""
    measures: dict[str, Decimal] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": str(uuid.uuid5(DEMO_NAMESPACE, self.key)),
            "campaign": self.campaign,
            "locality": self.locality,
            "date": self.date.isoformat(),
            "unit": self.unit,
            "measures": {k: format(v.normalize(), "f") for k, v in self.measures.items()},
            "note": self.note,
        }


@dataclass(frozen=True)
class Theme:
    name: str
    count: int
    core: tuple[str, ...]
    optional: tuple[str, ...]
    units: tuple[tuple[str, bool], ...]  # (unit, True if reported for the whole district)


ARTICLE_SPELLINGS = {"Mù Căng Chải": "Mù Cang Chải"}
"""Names in units' free text as the articles write them, where the official name of the
legacy map is spelled otherwise (the demo's reports stay what they were)."""


def place(ward_name: str) -> str:
    """'Xã Nậm Có' -> 'xã Nậm Có', for use inside a unit name."""
    for official, written in ARTICLE_SPELLINGS.items():
        ward_name = ward_name.replace(official, written)
    return ward_name[:1].lower() + ward_name[1:]


def _split(total: Decimal, parts: int, quantum: Decimal, rng: random.Random) -> list[Decimal]:
    """Split ``total`` into ``parts`` positive multiples of ``quantum`` summing exactly."""
    units = total / quantum
    if units != units.to_integral_value() or int(units) < parts or parts < 1:
        raise ValueError(f"cannot split {total} into {parts} parts of {quantum}")
    extra = int(units) - parts
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    raw = [extra * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(parts), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: extra - sum(counts)]:
        counts[i] += 1
    shares = [(c + 1) * quantum for c in counts]
    if sum(shares) != total:
        raise ArithmeticError(f"split of {total} does not add up")
    return shares


def distribute(
    takers: Mapping[str, Sequence[Draft]], totals: Mapping[str, Decimal], rng: random.Random
) -> None:
    """Give each draft listed under an indicator its share of that indicator's total."""
    for indicator, total in totals.items():
        drafts = takers.get(indicator, ())
        if not drafts:
            raise ValueError(f"no report takes {indicator}")
        quantum = _QUANTUM.get(indicator, Decimal(1))
        for draft, amount in zip(drafts, _split(total, len(drafts), quantum, rng), strict=True):
            draft.measures[indicator] = amount


def pick_subsets(
    core: Sequence[str], optional: Sequence[str], count: int, rng: random.Random
) -> list[list[str]]:
    """``count`` non-empty indicator lists: all of ``core``, about half of ``optional``,
    each optional indicator in at least one list."""
    chosen: list[list[str]] = []
    for _ in range(count):
        picks = [*core, *(k for k in optional if rng.random() < 0.5)]
        chosen.append(picks or [rng.choice(optional)])
    for indicator in optional:
        if not any(indicator in picks for picks in chosen):
            rng.choice(chosen).append(indicator)
    return chosen


def weekends(first: dt.date, last: dt.date) -> list[dt.date]:
    days = (first + dt.timedelta(n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() >= 5]


def weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    days = (first + dt.timedelta(n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]


def second_saturday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta((5 - first.weekday()) % 7 + 7)


def last_saturday(year: int, month: int) -> dt.date:
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta((last.weekday() - 5) % 7)
