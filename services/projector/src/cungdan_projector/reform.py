"""The 2025 map's view of reports made on the legacy map. Pure: no I/O.

The read model keeps every report where it was made (its map and locality). A reader of
the 2025 map also counts the legacy map's reports, converted through the official
conversion (:mod:`cungdan_contracts.conversion`) at read time:

* a 2025 province takes the totals of the legacy provinces merged into it (exact: no
  legacy commune crosses a 2025 province line);
* a 2025 commune takes the totals of the legacy communes that became part of it whole;
* what a province takes but none of its communes does (communes split among several 2025
  communes, and reports made at a legacy district's or province's own level) is its
  ``unattributed`` part, listed with the legacy localities it came from, so that a
  province's children always add up to what it took. Nothing is apportioned by a guess;
* the nation takes the legacy nation's totals: every report ever made.

Because the conversion is applied when reading, a new conversion table takes effect when
the projector restarts with it: no rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cungdan_contracts import NATION, AdminMap, Gazetteer, Level
from cungdan_contracts.conversion import Conversion

Amounts = Sequence[int]
"""Amounts in units, one per catalog indicator, in catalog order."""
Sums = Mapping[str, Amounts]
"""Locality code -> its amounts (a locality with nothing may be absent)."""

LEGACY = AdminMap.LEGACY


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
    """A legacy locality whose amounts went into a province's unattributed part, and
    why: ``split`` (a commune split among several 2025 communes), ``gone`` (a commune
    that no longer existed on 2025-06-30, so the conversion does not know it) or ``own``
    (reported at a legacy district's or province's own level)."""

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
    """Which legacy localities a 2025 view of ``code`` reads, and how it folds them."""

    code: str
    level: Level
    takes: Mapping[str, tuple[str, ...]]
    """2025 locality -> the legacy localities whose totals it takes whole."""
    legacy_provinces: tuple[str, ...]
    """The legacy provinces the view reads from (empty for the nation: all of them)."""
    tree: Mapping[str, tuple[str, ...]]
    """For a province view: each legacy province and district -> its legacy children."""
    unattributed: Mapping[str, str]
    """For a province view: the legacy communes no 2025 commune takes whole -> why."""

    @property
    def legacy_codes(self) -> list[str]:
        """Every legacy locality whose totals the view needs."""
        codes = {c for taken in self.takes.values() for c in taken}
        codes.update(self.tree)
        codes.update(c for children in self.tree.values() for c in children)
        return sorted(codes)

    def fold(self, legacy: Sums) -> Converted:
        """The view's converted amounts from the legacy localities' totals."""
        entries = {code: amounts for code, taken in self.takes.items()
                   if (amounts := summed([legacy.get(c) for c in taken])) is not None}
        if self.level is not Level.PROVINCE:
            return Converted(entries, None, [])
        sources: list[Source] = []
        for parent in sorted(self.tree):
            total = legacy.get(parent)
            if total is None:
                continue  # nothing reported anywhere below it
            children = self.tree[parent]
            below = summed([legacy.get(c) for c in children])
            own = [t - b for t, b in zip(total, below, strict=True)] if below else list(total)
            if any(own):
                sources.append(Source(parent, "own", own))
            sources += [Source(c, self.unattributed[c], list(found)) for c in children
                        if c in self.unattributed
                        and (found := legacy.get(c)) is not None and any(found)]
        sources.sort(key=lambda s: s.code)
        return Converted(entries, summed([s.amounts for s in sources]), sources)


def _ever_below(gazetteer: Gazetteer, code: str) -> tuple[str, ...]:
    """Every legacy unit that was ever directly below ``code``: those of 2025-06-30 and
    those merged or dissolved before (a former district's communes roll up through it)."""
    return tuple(sorted(c.code for c in (*gazetteer.children(LEGACY, code),
                                         *gazetteer.former_children(LEGACY, code))))


def reform_view(gazetteer: Gazetteer, conversion: Conversion, code: str) -> ReformView:
    """The 2025 view of ``code`` (a locality of the 2025 map) and its children."""
    loc = gazetteer.get(AdminMap.Y2025, code)
    if loc is None:
        raise KeyError(f"unknown locality {code!r} in the 2025 map")
    children = [c.code for c in gazetteer.children(AdminMap.Y2025, code)]
    if loc.level is Level.NATION:
        takes = {NATION: (NATION,)} | {p: conversion.legacy_provinces(p) for p in children}
        return ReformView(code, loc.level, takes, (), {}, {})
    if loc.level is Level.COMMUNE:
        return ReformView(code, loc.level, {code: conversion.predecessors(code)},
                          conversion.legacy_provinces(loc.parent or ""), {}, {})
    provinces = conversion.legacy_provinces(code)
    tree: dict[str, tuple[str, ...]] = {}
    for province in provinces:
        districts = gazetteer.children(LEGACY, province)
        tree[province] = _ever_below(gazetteer, province)
        for district in districts:
            if district.code not in conversion.whole:  # island districts became communes
                tree[district.code] = _ever_below(gazetteer, district.code)
    takes = {code: provinces} | {c: conversion.predecessors(c) for c in children}
    unattributed = {c: "split" if c in conversion.split else "gone"
                    for children in tree.values() for c in children
                    if c not in conversion.whole and c not in tree}  # communes, not districts
    return ReformView(code, loc.level, takes, provinces, tree, unattributed)


class ReformViews:
    """:func:`reform_view` of each 2025 locality, built once (the gazetteer and the
    conversion do not change while a process runs)."""

    def __init__(self, gazetteer: Gazetteer, conversion: Conversion) -> None:
        self.gazetteer, self.conversion = gazetteer, conversion
        self._views: dict[str, ReformView] = {}

    def __call__(self, code: str) -> ReformView:
        view = self._views.get(code)
        if view is None:
            view = self._views[code] = reform_view(self.gazetteer, self.conversion, code)
        return view
