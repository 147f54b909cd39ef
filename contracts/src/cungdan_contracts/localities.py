"""Official localities in the two administrative maps, and the rollup tree.

A GSO code means something only together with the map in force on the
activity's date: the legacy map (province / district / commune) before
2025-07-01, the 2025 map (province / commune) from then on. Codes of different
levels have different lengths (2, 3 and 5 digits), and ``VN`` is the nation.

The lists come from the maintained ``vietnamadminunits`` package (it carries
both maps and the official legacy-to-2025 conversion); :func:`load_gazetteer`
reads them once, through :mod:`.admin_units_data`.

That package knows the legacy map of 2025-06-30 only. The legacy map's history (units
merged or created since 2020, and the official spelling of legacy names) comes from
``data/legacy_history.json``, generated from older official lists that other packages
ship (``contracts/tools/build_legacy_history.py``; rules and provenance in
docs/legacy-history.md): a unit that is no longer in the 2025-06-30 list is a locality
of the legacy map with validity bounds, under its district (or, for a district, its
province), and reports name it only for a date it was in force.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

from .admin_units_data import query

NATION = "VN"
REFORM_DATE = date(2025, 7, 1)
EARLIEST_MAP_DATE = date(2020, 1, 1)
"""The first day a map is known for. The oldest official list the gazetteer has is of
2020-02-25; it is taken as in force from 2020-01-01 (units merged in January and February
2020 are a known gap)."""
HISTORY = ("data", "legacy_history.json")


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
    valid_from: date | None = None
    """The first day it is in its map; None: from the map's first day."""
    valid_until: date | None = None
    """The first day it is no longer in its map; None: it is in the map's latest list."""

    def in_force_on(self, day: date) -> bool:
        """Whether the unit existed on ``day`` (in its map: the day's map is for the caller)."""
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_until is None or day < self.valid_until))


class Gazetteer:
    """Lookups over the localities of both maps. Pure: built from plain records."""

    def __init__(self, localities: Iterable[Locality]) -> None:
        self._by_key: dict[tuple[AdminMap, str], Locality] = {}
        self._children: dict[tuple[AdminMap, str], list[Locality]] = defaultdict(list)
        self._former: dict[tuple[AdminMap, str], list[Locality]] = defaultdict(list)
        self._ancestors: dict[tuple[AdminMap, str], tuple[str, ...]] = {}
        for loc in localities:
            self._by_key[(loc.map, loc.code)] = loc
            if loc.parent is not None:
                below = self._children if loc.valid_until is None else self._former
                below[(loc.map, loc.parent)].append(loc)
        for children in (*self._children.values(), *self._former.values()):
            children.sort(key=lambda c: c.code)

    def get(self, admin_map: AdminMap, code: str) -> Locality | None:
        """The locality, whenever it existed (see :meth:`valid_on`)."""
        return self._by_key.get((admin_map, code))

    def valid_on(self, admin_map: AdminMap, code: str, day: date) -> bool:
        """Whether ``code`` named a locality of ``admin_map`` on ``day``."""
        loc = self._by_key.get((admin_map, code))
        return loc is not None and loc.in_force_on(day)

    def children(self, admin_map: AdminMap, code: str, on: date | None = None) -> list[Locality]:
        """The direct children, in code order: those of the map's latest list (on the legacy
        map, that of 2025-06-30), or, given ``on``, those in force on that day."""
        if on is None:
            return list(self._children.get((admin_map, code), ()))
        key = (admin_map, code)
        return sorted((c for c in (*self._children.get(key, ()), *self._former.get(key, ()))
                       if c.in_force_on(on)), key=lambda c: c.code)

    def former_children(self, admin_map: AdminMap, code: str) -> list[Locality]:
        """The direct children no longer in the map's latest list (merged or dissolved
        before it), in code order: with :meth:`children`, every unit that ever was below."""
        return list(self._former.get((admin_map, code), ()))

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


@cache
def legacy_history() -> dict[str, Any]:
    """``data/legacy_history.json`` as written by ``contracts/tools/build_legacy_history.py``:
    ``sources`` (the official lists, their packages and sha256), ``units`` (each unit
    missing from some list: when it existed, and for one gone by 2025-06-30 its name,
    level, district and province), ``names`` (code -> [vietnamadminunits' spelling, the
    official one])."""
    text = files(__package__).joinpath(*HISTORY).read_text(encoding="utf-8")
    history: dict[str, Any] = json.loads(text)
    return history


def _bounds(unit: dict[str, Any]) -> tuple[date | None, date | None]:
    """Permissive between two lists: a unit first seen in a list is valid from the day
    after the list before it; one missing from a list, until the day before it."""
    after = unit.get("from")
    before = unit.get("until")
    return (date.fromisoformat(after[0]) + timedelta(days=1) if after else None,
            date.fromisoformat(before[1]) if before else None)


def _legacy_localities() -> Iterable[Locality]:
    history = legacy_history()
    units: dict[str, dict[str, Any]] = history["units"]
    names: dict[str, list[str]] = history["names"]
    legacy = AdminMap.LEGACY

    def named(code: str, name: str) -> str:
        ours, official = names.get(code) or (None, None)
        return official if official and ours == name else name  # only the spelling it fixes

    def unit(code: str, name: str, level: Level, parent: str) -> Locality:
        valid_from, _ = _bounds(units[code]) if code in units else (None, None)
        return Locality(legacy, code, named(code, name), level, parent, valid_from)

    seen: set[str] = set()
    for pc, pn, dc, dn, wc, wn in query(
        "SELECT provinceCode, province, districtCode, district, wardCode, ward "
        "FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    ):
        assert pc and pn and dc and dn
        for code, name, level, parent in ((pc, pn, Level.PROVINCE, NATION),
                                          (dc, dn, Level.DISTRICT, pc),
                                          (wc, wn, Level.COMMUNE, dc)):
            if code and name and code not in seen:  # island districts have no communes
                seen.add(code)
                yield unit(code, name, level, parent)
    for code, gone in units.items():  # districts (3 digits) come before communes (5)
        if "until" in gone and code not in seen:
            parent = gone.get("district")
            seen.add(code)
            yield Locality(legacy, code, gone["name"], Level(gone["level"]),
                           parent if parent in seen else gone["province"], *_bounds(gone))


def _localities_2025() -> Iterable[Locality]:
    y2025 = AdminMap.Y2025
    provinces: set[str] = set()
    for pc, pn, wc, wn in query(
        "SELECT provinceCode, province, wardCode, ward FROM admin_units "
        "ORDER BY provinceCode, wardCode"
    ):
        assert pc and pn and wc and wn
        if pc not in provinces:
            provinces.add(pc)
            yield Locality(y2025, pc, pn, Level.PROVINCE, NATION)
        yield Locality(y2025, wc, wn, Level.COMMUNE, pc)


def _read_localities() -> Iterable[Locality]:
    for admin_map in AdminMap:
        yield Locality(admin_map, NATION, "Việt Nam", Level.NATION, None)
    yield from _legacy_localities()
    yield from _localities_2025()


@cache
def load_gazetteer() -> Gazetteer:
    """The official gazetteer of both maps (read once per process)."""
    return Gazetteer(_read_localities())
