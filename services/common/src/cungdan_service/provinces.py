"""Which 2025 province each legacy province merged into: the official conversion.

Read from the data the ``vietnamadminunits`` package ships (the gazetteer's own
source) by :func:`cungdan_contracts.conversion.province_successors`. Legacy districts
and communes lie in a legacy province, so they follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from cungdan_contracts.conversion import province_successors


@cache
def legacy_successors() -> Mapping[str, str]:
    """Legacy province code -> the 2025 province code it became part of (all 63 provinces)."""
    return province_successors()


def provinces_2025() -> frozenset[str]:
    """The codes of the 34 provinces of the 2025 map."""
    return frozenset(legacy_successors().values())


def merged_into(provinces: frozenset[str]) -> frozenset[str]:
    """The legacy provinces that became part of any of ``provinces`` (2025 codes)."""
    return frozenset(old for old, new in legacy_successors().items() if new in provinces)
