"""Which 2025 province each legacy province merged into: the official conversion.

Read from the data the ``vietnamadminunits`` package ships (the gazetteer's own
source), through :mod:`cungdan_contracts.admin_units_data`: the mergers map each 2025
province key to the legacy province keys merged into it, and the
``provinceKey``/``provinceCode`` columns of both maps turn keys into GSO codes. Legacy
districts and communes lie in a legacy province, so they follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from cungdan_contracts.admin_units_data import province_mergers, query


def _codes_by_key(table: str) -> dict[str, str]:
    rows = query(f"SELECT DISTINCT provinceKey, provinceCode FROM {table}")  # noqa: S608 - fixed names
    return {str(key): str(code) for key, code in rows}


@cache
def legacy_successors() -> Mapping[str, str]:
    """Legacy province code -> the 2025 province code it became part of (all 63 provinces)."""
    merged = province_mergers()
    new_codes = _codes_by_key("admin_units")
    old_codes = _codes_by_key("admin_units_legacy")
    successors: dict[str, str] = {}
    for new_key, old_keys in merged.items():
        for old_key in old_keys:
            old = old_codes[old_key]
            if successors.setdefault(old, new_codes[new_key]) != new_codes[new_key]:
                raise ValueError(f"legacy province {old} merged into two 2025 provinces")
    missing = set(old_codes.values()) - successors.keys()
    if missing:
        raise ValueError(f"legacy provinces without a 2025 successor: {sorted(missing)}")
    return successors


def provinces_2025() -> frozenset[str]:
    """The codes of the 34 provinces of the 2025 map."""
    return frozenset(legacy_successors().values())


def merged_into(provinces: frozenset[str]) -> frozenset[str]:
    """The legacy provinces that became part of any of ``provinces`` (2025 codes)."""
    return frozenset(old for old, new in legacy_successors().items() if new in provinces)
