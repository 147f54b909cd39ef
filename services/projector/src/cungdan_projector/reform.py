"""The 2025 map's view of reports made on the legacy map. Pure: no I/O.

Every report stays where it was made (its map and locality), and each legacy report also
adds, once, to its entry on the 2025 map (:func:`.rollup.entry_of`): the 2025 commune its
commune became part of whole, or else its own legacy locality, kept apart as
*unattributed*. A reader of the 2025 map counts both maps:

* a 2025 commune takes the legacy reports of the communes that became part of it whole;
* a 2025 province takes those of its communes, plus its *unattributed* part: the reports
  of legacy communes split among several 2025 communes or gone before the reform, and
  those made at a legacy district's or province's own level, listed with the legacy
  localities they came from. So a province's children add up to what it took, and that
  is the total of the legacy provinces merged into it (exact: no legacy commune crosses a
  2025 province line). Nothing is apportioned by a guess;
* the nation takes the legacy nation's totals: every report ever made.

A new conversion table means new entries, so it comes with a new projection version and
a rebuild (:data:`.rollup.CONVERSION_VERSION`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cungdan_contracts import NATION, AdminMap, Gazetteer, Level, Locality
from cungdan_contracts.conversion import Conversion
from cungdan_contracts.localities import REFORM_DATE

from .rollup import CONVERTED, UNATTRIBUTED

Amounts = Sequence[int]
"""Amounts in units, one per catalog indicator, in catalog order."""
Sums = Mapping[str, Amounts]
"""Locality code -> its amounts (a locality with nothing may be absent)."""

LEGACY = AdminMap.LEGACY
LAST_LEGACY_DAY = REFORM_DATE - dt.timedelta(days=1)


def summed(parts: Sequence[Amounts | None]) -> list[int] | None:
    """The sum of some amounts (None: nothing at all)."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    if len(present) == 1:
        return list(present[0])
    return [sum(column) for column in zip(*present, strict=True)]


@dataclass(frozen=True, slots=True)
class Source:
    """A legacy locality whose reports went into a province's unattributed part, and
    why: ``split`` (a commune split among several 2025 communes), ``gone`` (a commune or
    district that no longer existed on 2025-06-30, so the conversion does not know it) or
    ``own`` (reported at a legacy district's or province's own level)."""

    code: str
    why: str
    amounts: list[int]


@dataclass(frozen=True, slots=True)
class Converted:
    """What the legacy map's reports add to one 2025 view."""

    entries: dict[str, list[int]]
    """2025 locality (the viewed one and each child) -> its converted amounts (absent:
    nothing)."""
    unattributed: list[int] | None
    """The viewed province's amounts no child takes (None: nothing, or not a province)."""
    sources: list[Source]
    """Where the unattributed amounts came from (nonzero ones only)."""


@dataclass(frozen=True, slots=True)
class ReformView:
    """Which rows a 2025 view of ``code`` reads for the legacy map's reports, and how it
    folds them. Each part is a ``map`` of the totals (:data:`.rollup.CONVERTED` and
    :data:`.rollup.UNATTRIBUTED` for all-time totals, the legacy map for dated ones) and
    the localities read in it."""

    code: str
    level: Level
    parts: tuple[tuple[str, tuple[str, ...]], ...]
    takes: Mapping[str, tuple[str, ...]]
    """2025 locality -> the localities of the first part whose totals it takes."""
    sources: Mapping[str, str]
    """For a province view: the legacy units no 2025 commune takes -> why."""
    legacy_provinces: tuple[str, ...]
    """The legacy provinces the view reads from (empty for the nation: all of them)."""
    tree: Mapping[str, tuple[str, ...]]
    """A dated province view: each legacy province and district -> every legacy unit ever
    below it (its own reports are its total less theirs). Empty otherwise."""

    def fold(self, sums: Sequence[Sums]) -> Converted:
        """The view's converted amounts from the totals of its parts (in order)."""
        first = sums[0]
        entries = {code: amounts for code, taken in self.takes.items()
                   if (amounts := summed([first.get(c) for c in taken])) is not None}
        if self.level is not Level.PROVINCE:
            return Converted(entries, None, [])
        found = _own_reports(first, self.tree) if self.tree else sums[1]
        sources = [Source(code, why, list(units)) for code, why in self.sources.items()
                   if (units := found.get(code)) is not None and any(units)]
        unattributed = summed([s.amounts for s in sources])
        own = summed([*entries.values(), unattributed])
        if own is not None:
            entries[self.code] = own
        return Converted(entries, unattributed, sources)


def _own_reports(legacy: Sums, tree: Mapping[str, tuple[str, ...]]) -> dict[str, Amounts]:
    """The legacy totals, with each province's and district's replaced by those of the
    reports made at its own level (its total less its children's)."""
    own: dict[str, Amounts] = dict(legacy)
    for parent, children in tree.items():
        total = legacy.get(parent)
        below = summed([legacy.get(c) for c in children])
        if total is not None and below is not None:
            own[parent] = [t - b for t, b in zip(total, below, strict=True)]
    return own


def _ever_below(gazetteer: Gazetteer, code: str) -> list[Locality]:
    """Every legacy unit that was ever directly below ``code``: those of 2025-06-30 and
    those merged or dissolved before (a former district's communes roll up through it)."""
    return [*gazetteer.children(LEGACY, code), *gazetteer.former_children(LEGACY, code)]


def _level(gazetteer: Gazetteer, code: str) -> Level | None:
    loc = gazetteer.get(LEGACY, code)
    return loc.level if loc else None


def _sources(gazetteer: Gazetteer, conversion: Conversion,
             provinces: tuple[str, ...]) -> dict[str, str]:
    """The legacy units of these provinces whose own reports no 2025 commune takes."""
    found: dict[str, str] = {}
    for province in provinces:
        found[province] = "own"
        for district in _ever_below(gazetteer, province):
            if district.code in conversion.whole:
                continue  # an island district that became a 2025 commune
            gone = not district.in_force_on(LAST_LEGACY_DAY)
            found[district.code] = "gone" if gone else "own"
            for commune in _ever_below(gazetteer, district.code):
                if commune.code not in conversion.whole:
                    found[commune.code] = "split" if commune.code in conversion.split else "gone"
    return dict(sorted(found.items()))


def reform_view(gazetteer: Gazetteer, conversion: Conversion, code: str, *,
                dated: bool = False) -> ReformView:
    """The 2025 view of ``code`` (a locality of the 2025 map) and its children: of the
    all-time totals (the legacy activities' 2025 entries), or ``dated`` (the legacy
    localities' own totals, which have months and days)."""
    loc = gazetteer.get(AdminMap.Y2025, code)
    if loc is None:
        raise KeyError(f"unknown locality {code!r} in the 2025 map")
    children = tuple(c.code for c in gazetteer.children(AdminMap.Y2025, code))
    if loc.level is Level.NATION:
        takes = {NATION: (NATION,)} | {p: conversion.legacy_provinces(p) for p in children}
        read = tuple(sorted({c for taken in takes.values() for c in taken}))
        return ReformView(code, loc.level, ((LEGACY.value, read),), takes, {}, (), {})
    provinces = conversion.legacy_provinces(
        code if loc.level is Level.PROVINCE else loc.parent or "")
    if loc.level is Level.COMMUNE:
        if dated:
            return ReformView(code, loc.level,
                              ((LEGACY.value, conversion.predecessors(code)),),
                              {code: conversion.predecessors(code)}, {}, provinces, {})
        return ReformView(code, loc.level, ((CONVERTED, (code,)),), {code: (code,)}, {},
                          provinces, {})
    sources = _sources(gazetteer, conversion, provinces)
    if not dated:
        return ReformView(code, loc.level,
                          ((CONVERTED, children), (UNATTRIBUTED, tuple(sources))),
                          {c: (c,) for c in children}, sources, provinces, {})
    takes = {c: conversion.predecessors(c) for c in children}
    tree = {parent: tuple(c.code for c in _ever_below(gazetteer, parent))
            for parent in sources if _level(gazetteer, parent) is not Level.COMMUNE}
    needed = sorted({*sources, *(c for taken in takes.values() for c in taken),
                     *(c for below in tree.values() for c in below)})
    return ReformView(code, loc.level, ((LEGACY.value, tuple(needed)),), takes, sources,
                      provinces, tree)


class ReformViews:
    """:func:`reform_view` of each 2025 locality, built once (the gazetteer and the
    conversion do not change while a process runs). The conversion is loaded by the first
    2025 read, not at start: a projector that only applies events never holds it."""

    def __init__(self, gazetteer: Gazetteer, conversion: Callable[[], Conversion]) -> None:
        self.gazetteer, self.conversion = gazetteer, conversion
        self._views: dict[tuple[str, bool], ReformView] = {}

    def __call__(self, code: str, *, dated: bool = False) -> ReformView:
        view = self._views.get((code, dated))
        if view is None:
            view = self._views[(code, dated)] = reform_view(
                self.gazetteer, self.conversion(), code, dated=dated)
        return view
