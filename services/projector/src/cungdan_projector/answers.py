"""The totals answer: a locality and its children, on the map and basis asked.

On the 2025 map the default basis (``all``) adds the legacy map's reports, converted
(:mod:`.reform`); ``reported`` counts only the reports made on the map asked. The legacy
map is always answered as reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cungdan_contracts import INDICATORS, NATION, AdminMap, Gazetteer, Locality, format_units
from cungdan_contracts.localities import REFORM_DATE

from .reads import Part, TotalsFilter
from .reform import Amounts, ReformView, ReformViews, Sums, summed

UNATTRIBUTED = "unattributed"
UNATTRIBUTED_NAME = "Chưa phân bổ về xã, phường (báo cáo theo bản đồ cũ)"


class Basis(StrEnum):
    ALL = "all"
    REPORTED = "reported"


def describe(loc: Locality) -> dict[str, Any]:
    return {"code": loc.code, "name": loc.name, "level": loc.level.value}


_NAMED = sorted((code, i, INDICATORS[code].scale) for i, code in enumerate(INDICATORS))
"""Each indicator's code, its position in the amounts and its scale, by code."""


def quantities(amounts: Amounts | None) -> dict[str, str]:
    """The nonzero amounts as exact decimal strings, by indicator code."""
    if not amounts:
        return {}
    return {code: format_units(amounts[i], scale) if scale else str(amounts[i])
            for code, i, scale in _NAMED if amounts[i]}


@dataclass(frozen=True, slots=True)
class TotalsQuery:
    """What to read for one totals answer, and how to put it together."""

    admin_map: AdminMap
    loc: Locality
    children: list[Locality]
    view: ReformView | None
    """The legacy reports' part, on the 2025 map with basis ``all``."""
    where: TotalsFilter

    @property
    def parts(self) -> list[Part]:
        """The native part, then the view's parts for the legacy reports, if any. A part is
        left empty when the dates asked lie all on the other side of the reform."""
        province = self.loc.code if self.loc.parent == NATION else self.loc.parent
        native = Part(self.admin_map.value, [self.loc.code, *(c.code for c in self.children)]
                      if self._may_hold(self.admin_map) else [],
                      (province,) if province and province != NATION else ())
        if self.view is None:
            return [native]
        legacy = self._may_hold(AdminMap.LEGACY)
        return [native, *(Part(admin_map, codes if legacy else (), self.view.legacy_provinces)
                          for admin_map, codes in self.view.parts)]

    def _may_hold(self, admin_map: AdminMap) -> bool:
        """Whether a report of ``admin_map`` may be dated in the range asked."""
        first, last = self.where.date_from, self.where.date_to
        if admin_map is AdminMap.LEGACY:
            return first is None or first < REFORM_DATE
        return last is None or last >= REFORM_DATE

    def body(self, gazetteer: Gazetteer, sums: list[dict[str, list[int]]],
             ) -> dict[str, Any]:
        native = sums[0]
        if self.view is None:
            return self._body(native, None, [])
        converted = self.view.fold(sums[1:])
        totals = dict(native)
        for code, amounts in converted.entries.items():
            both = summed([native.get(code), amounts])
            assert both is not None
            totals[code] = both
        extra = []
        if converted.unattributed:
            extra.append({
                "code": None, "name": UNATTRIBUTED_NAME, "level": UNATTRIBUTED,
                UNATTRIBUTED: True,
                "totals": quantities(converted.unattributed),
                "from_legacy": quantities(converted.unattributed),
                "sources": [{**_legacy(gazetteer, s.code), "why": s.why}
                            for s in converted.sources],
            })
        return self._body(totals, converted.entries, extra)

    def _body(self, totals: Sums, from_legacy: Sums | None,
              extra: list[dict[str, Any]]) -> dict[str, Any]:
        def entry(code: str) -> dict[str, Any]:
            shown = {"totals": quantities(totals.get(code))}
            if from_legacy is not None:
                shown["from_legacy"] = quantities(from_legacy.get(code))
            return shown

        own = entry(self.loc.code)
        return {
            "map": self.admin_map.value,
            "basis": Basis.REPORTED.value if self.view is None else Basis.ALL.value,
            "locality": {**describe(self.loc), "parent": self.loc.parent},
            **own,
            "units": {c: INDICATORS[c].unit for c in own["totals"]},
            "children": [{**describe(c), **entry(c.code)} for c in self.children] + extra,
        }


def _legacy(gazetteer: Gazetteer, code: str) -> dict[str, Any]:
    loc = gazetteer.get(AdminMap.LEGACY, code)
    return {"map": AdminMap.LEGACY.value,
            **(describe(loc) if loc else {"code": code, "name": code, "level": None})}


def totals_query(gazetteer: Gazetteer, views: ReformViews, admin_map: AdminMap,
                 loc: Locality, basis: Basis, where: TotalsFilter) -> TotalsQuery:
    dated = where.date_from is not None or where.date_to is not None
    view = (views(loc.code, dated=dated)
            if admin_map is AdminMap.Y2025 and basis is Basis.ALL else None)
    return TotalsQuery(admin_map, loc, gazetteer.children(admin_map, loc.code), view, where)
