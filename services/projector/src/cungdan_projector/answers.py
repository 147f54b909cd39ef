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
from cungdan_contracts.conversion import Conversion

from .reads import Part
from .reform import Amounts, ReformView, Sums, add, reform_view

UNATTRIBUTED = "unattributed"
UNATTRIBUTED_NAME = "Chưa phân bổ về xã, phường (báo cáo theo bản đồ cũ)"


class Basis(StrEnum):
    ALL = "all"
    REPORTED = "reported"


def describe(loc: Locality) -> dict[str, Any]:
    return {"code": loc.code, "name": loc.name, "level": loc.level.value}


def quantities(units: Amounts) -> dict[str, str]:
    return {code: format_units(amount, INDICATORS[code].scale)
            for code, amount in sorted(units.items()) if amount}


@dataclass(frozen=True, slots=True)
class TotalsQuery:
    """What to read for one totals answer, and how to put it together."""

    admin_map: AdminMap
    loc: Locality
    children: list[Locality]
    view: ReformView | None
    """The legacy reports' part, on the 2025 map with basis ``all``."""

    @property
    def parts(self) -> list[Part]:
        province = self.loc.code if self.loc.parent == NATION else self.loc.parent
        native = Part(self.admin_map.value, [self.loc.code, *(c.code for c in self.children)],
                      (province,) if province and province != NATION else ())
        if self.view is None:
            return [native]
        return [native, Part(AdminMap.LEGACY.value, self.view.legacy_codes,
                             self.view.legacy_provinces)]

    def body(self, gazetteer: Gazetteer, sums: list[dict[str, dict[str, int]]],
             ) -> dict[str, Any]:
        native = sums[0]
        if self.view is None:
            totals = {code: dict(amounts) for code, amounts in native.items()}
            return self._body(totals, None, [])
        converted = self.view.fold(sums[1])
        totals = {code: dict(amounts) for code, amounts in native.items()}
        for code, amounts in converted.entries.items():
            add(totals.setdefault(code, {}), amounts)
        extra = []
        if converted.unattributed:
            extra.append({
                "code": None, "name": UNATTRIBUTED_NAME, "level": UNATTRIBUTED,
                UNATTRIBUTED: True,
                "totals": quantities(converted.unattributed),
                "from_legacy": quantities(converted.unattributed),
                "sources": [{**_legacy(gazetteer, s.code), "why": s.why,
                             "totals": quantities(s.amounts)} for s in converted.sources],
            })
        return self._body(totals, converted.entries, extra)

    def _body(self, totals: Sums, from_legacy: Sums | None,
              extra: list[dict[str, Any]]) -> dict[str, Any]:
        def entry(code: str) -> dict[str, Any]:
            shown = {"totals": quantities(totals.get(code, {}))}
            if from_legacy is not None:
                shown["from_legacy"] = quantities(from_legacy.get(code, {}))
            return shown

        own = totals.get(self.loc.code, {})
        return {
            "map": self.admin_map.value,
            "basis": Basis.REPORTED.value if self.view is None else Basis.ALL.value,
            "locality": {**describe(self.loc), "parent": self.loc.parent},
            **entry(self.loc.code),
            "units": {c: INDICATORS[c].unit for c in sorted(own) if own[c]},
            "children": [{**describe(c), **entry(c.code)} for c in self.children] + extra,
        }


def _legacy(gazetteer: Gazetteer, code: str) -> dict[str, Any]:
    loc = gazetteer.get(AdminMap.LEGACY, code)
    return {"map": AdminMap.LEGACY.value,
            **(describe(loc) if loc else {"code": code, "name": code, "level": None})}


def totals_query(gazetteer: Gazetteer, conversion: Conversion, admin_map: AdminMap,
                 loc: Locality, basis: Basis) -> TotalsQuery:
    view = (reform_view(gazetteer, conversion, loc.code)
            if admin_map is AdminMap.Y2025 and basis is Basis.ALL else None)
    return TotalsQuery(admin_map, loc, gazetteer.children(admin_map, loc.code), view)
