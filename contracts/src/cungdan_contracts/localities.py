"""Official localities in the two administrative maps, and the rollup tree.

A GSO code means something only together with the map in force on the
activity's date: the legacy map (province / district / commune) before
2025-07-01, the 2025 map (province / commune) from then on. Codes of different
levels have different lengths (2, 3 and 5 digits), and ``VN`` is the nation.

The lists come from the maintained ``vietnamadminunits`` package (it carries
both maps and the official legacy-to-2025 conversion); :func:`load_gazetteer`
reads them once, through :mod:`.admin_units_data`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache

from .admin_units_data import query

NATION = "VN"
REFORM_DATE = date(2025, 7, 1)


class AdminMap(StrEnum):
    LEGACY = "legacy"
    Y2025 = "2025"


class Level(StrEnum):
    NATION = "nation"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


def map_for_date(day: date) -> AdminMap:
    """The administrative map in force on ``day``."""
    return AdminMap.LEGACY if day < REFORM_DATE else AdminMap.Y2025


@dataclass(frozen=True, slots=True)
class Locality:
    map: AdminMap
    code: str
    name: str
    level: Level
    parent: str | None


class Gazetteer:
    """Lookups over the localities of both maps. Pure: built from plain records."""

    def __init__(self, localities: Iterable[Locality]) -> None:
        self._by_key: dict[tuple[AdminMap, str], Locality] = {}
        self._children: dict[tuple[AdminMap, str], list[Locality]] = defaultdict(list)
        self._ancestors: dict[tuple[AdminMap, str], tuple[str, ...]] = {}
        for loc in localities:
            self._by_key[(loc.map, loc.code)] = loc
            if loc.parent is not None:
                self._children[(loc.map, loc.parent)].append(loc)
        for children in self._children.values():
            children.sort(key=lambda c: c.code)

    def get(self, admin_map: AdminMap, code: str) -> Locality | None:
        return self._by_key.get((admin_map, code))

    def children(self, admin_map: AdminMap, code: str) -> list[Locality]:
        return list(self._children.get((admin_map, code), ()))

    def ancestors(self, admin_map: AdminMap, code: str) -> tuple[str, ...]:
        """``code`` and every locality above it, up to the nation (the rollup path)."""
        key = (admin_map, code)
        path = self._ancestors.get(key)
        if path is None:
            chain: list[str] = []
            loc = self._by_key.get(key)
            if loc is None:
                raise KeyError(f"unknown locality {code!r} in the {admin_map} map")
            while loc is not None:
                chain.append(loc.code)
                loc = self._by_key.get((admin_map, loc.parent)) if loc.parent else None
            path = self._ancestors[key] = tuple(chain)
        return path

    def province_of(self, admin_map: AdminMap, code: str) -> str:
        """The province a locality lies in (``VN`` for the nation itself)."""
        path = self.ancestors(admin_map, code)
        return path[-2] if len(path) >= 2 else NATION

    def __len__(self) -> int:
        return len(self._by_key)


def _read_localities() -> Iterable[Locality]:
    for admin_map in AdminMap:
        yield Locality(admin_map, NATION, "Việt Nam", Level.NATION, None)
    seen: set[tuple[AdminMap, str]] = set()

    def once(loc: Locality) -> Iterable[Locality]:
        if (loc.map, loc.code) not in seen:
            seen.add((loc.map, loc.code))
            yield loc

    legacy = AdminMap.LEGACY
    for pc, pn, dc, dn, wc, wn in query(
        "SELECT provinceCode, province, districtCode, district, wardCode, ward "
        "FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    ):
        assert pc and pn and dc and dn
        yield from once(Locality(legacy, pc, pn, Level.PROVINCE, NATION))
        yield from once(Locality(legacy, dc, dn, Level.DISTRICT, pc))
        if wc and wn:  # island districts have no communes
            yield from once(Locality(legacy, wc, wn, Level.COMMUNE, dc))
    y2025 = AdminMap.Y2025
    for pc, pn, wc, wn in query(
        "SELECT provinceCode, province, wardCode, ward FROM admin_units "
        "ORDER BY provinceCode, wardCode"
    ):
        assert pc and pn and wc and wn
        yield from once(Locality(y2025, pc, pn, Level.PROVINCE, NATION))
        yield from once(Locality(y2025, wc, wn, Level.COMMUNE, pc))


@cache
def load_gazetteer() -> Gazetteer:
    """The official gazetteer of both maps (read once per process)."""
    return Gazetteer(_read_localities())
