"""The official conversion of the legacy map into the 2025 map.

Every legacy province lies whole in one 2025 province, and no legacy commune crosses a
2025 province line, so a province converts exactly. A legacy commune either became part
of exactly one 2025 commune (*whole*) or was split among several (*split*): its amounts
cannot be attributed to one of them without a guess, so a reader of the 2025 map counts
them in the 2025 province only (as its ``unattributed`` part). The island districts that
have no communes became one 2025 special zone each (whole).

Built from the ``vietnamadminunits`` package's data (``data/converter_2025.json``, which
names units by keys; the dataset's key and code columns turn them into GSO codes) with
the choices where it disagrees with the statistics office's table
(:data:`DISAGREEMENTS`). :data:`Conversion.version` names both, so a reader can say
which table it applied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from .admin_units_data import installed_version, province_mergers, query, ward_mergers

RULES_VERSION = 1
"""Version of :data:`DISAGREEMENTS` and of how the table is read; part of
:attr:`Conversion.version`."""

DISAGREEMENTS: Mapping[str, tuple[str, ...]] = {
    # Đặng Xá: the official table's row for 00562 Thuận An names "Xã Đặng Xá" ("part of
    # its area, all of its population") with Cổ Bi's code 00553; read by name, Đặng Xá
    # was split between Phù Đổng and Thuận An, as vietnamadminunits says.
    "00556": ("00541", "00562"),  # Xã Đặng Xá; by the official code column: 00541 only
    "01615": ("01636", "01648"),  # Xã Hồng Quang; vietnamadminunits: 01636
    "02485": ("02458", "02494"),  # Xã Công Đa; vietnamadminunits: 02458
    "06079": ("06079",),  # Xã Hồng Phong; vietnamadminunits: 06079, 06184
    "09013": ("08980", "08995", "09022", "09817"),  # Xã Văn Khê; vau: 08980, 08995, 09022
    "10798": ("10804", "10843"),  # Xã Hòa Bình; vietnamadminunits: 10804, 10843, 11911
    "11890": ("11911",),  # Xã Hòa Bình; vietnamadminunits: 10804, 10843, 11911
    "23053": ("23053",),  # Xã Hòa Thắng; vietnamadminunits: 23041, 23053
    "25462": ("25459",),  # Phường 4; vietnamadminunits: 25459, 27694
    "27691": ("27694",),  # Phường 4; vietnamadminunits: 25459, 27694
    "28036": ("28036",),  # Thị trấn Thủ Thừa; vietnamadminunits: 28036, 28087
    "28252": ("28249",),  # Phường 4; vietnamadminunits: 28249, 29869
    "28270": ("28270",),  # Phường 6; vietnamadminunits: 28270, 29869
    "28437": ("28435",),  # Phường 3; vietnamadminunits: 28435, 29869
    "28439": ("28439",),  # Phường 4; vietnamadminunits: 28439, 29869
    "28924": ("28921",),  # Xã Hòa Lộc; vietnamadminunits: 28921, 29734
    "29623": ("29623",),  # Xã Mỹ An; vietnamadminunits: 29182, 29623
    "29734": ("29734",),  # Xã Hòa Lộc; vietnamadminunits: 28921, 29734
    "29902": ("29905",),  # Phường 3; vietnamadminunits: 29869, 29905
    "29908": ("29905",),  # Phường 4; vietnamadminunits: 29869, 29905
    "31246": ("31246",),  # Xã Thạnh Quới; vietnamadminunits: 31246, 31726
    "31268": ("31288",),  # Xã Tân Thạnh; vietnamadminunits: 31288, 31666
    "31378": ("31378",),  # Xã Phú Hữu; vietnamadminunits: 31378, 31654
    "31379": ("31378",),  # Xã Phú Tân; vietnamadminunits: 31378, 31582
    "31438": ("31408",),  # Xã Tân Long; vietnamadminunits: 31408, 31741
    "31474": ("31473",),  # Xã Long Bình; vietnamadminunits: 31473, 31741
    "31480": ("31480",),  # Xã Long Phú; vietnamadminunits: 31480, 31639
    "31483": ("31495",),  # Xã Thuận Hưng; vietnamadminunits: 31495, 31591
    "31582": ("31582",),  # Xã Phú Tân; vietnamadminunits: 31378, 31582
    "31606": ("31591",),  # Xã Thuận Hưng; vietnamadminunits: 31495, 31591
    "31657": ("31654",),  # Xã Phú Hữu; vietnamadminunits: 31378, 31654
    "31666": ("31666",),  # Xã Tân Thạnh; vietnamadminunits: 31288, 31666
    "31669": ("31639",),  # Xã Long Phú; vietnamadminunits: 31480, 31639
    "31714": ("31726",),  # Xã Thạnh Quới; vietnamadminunits: 31246, 31726
    "31741": ("31741",),  # Xã Tân Long; vietnamadminunits: 31408, 31741
    "31744": ("31741",),  # Xã Long Bình; vietnamadminunits: 31473, 31741
}
"""The legacy communes where vietnamadminunits' conversion and the statistics office's
official table disagree, and the 2025 communes cungdan converts them into (one: whole;
several: split). cungdan follows the official table (``BangChuyendoiĐVHCmoi_cu_khong_merge
.csv``, as vietnam-provinces 2026.2.3 publishes it in ``_ward_conversion_2025.py``; that
package needs Python 3.12, so its choices are pinned here). Most are communes of the same
name in one province that vietnamadminunits gave the union of their successors (e.g. the
two Phú Tân of Cần Thơ: 31379 became part of Phú Hữu 31378, 31582 of Thuận Hòa 31582).
The one exception is 00556 Đặng Xá (see its comment); 00553 Cổ Bi, whose code that row
borrowed, stays as vietnamadminunits has it. ``docs/reform.md`` tells the whole story."""


@dataclass(frozen=True)
class Conversion:
    """The legacy -> 2025 conversion by GSO code. Pure: built from plain mappings."""

    version: str
    provinces: Mapping[str, str]
    """Legacy province -> the 2025 province it became part of."""
    whole: Mapping[str, str]
    """Legacy commune (or island district without communes) -> the one 2025 commune it
    became part of."""
    split: Mapping[str, tuple[str, ...]]
    """Legacy commune -> the 2025 communes it was split among (two or more)."""
    _legacy_of: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _predecessors: Mapping[str, tuple[str, ...]] = field(init=False, repr=False,
                                                         compare=False)

    def __post_init__(self) -> None:
        legacy_of: dict[str, list[str]] = defaultdict(list)
        for old, new in sorted(self.provinces.items()):
            legacy_of[new].append(old)
        predecessors: dict[str, list[str]] = defaultdict(list)
        for old, new in sorted(self.whole.items()):
            predecessors[new].append(old)
        object.__setattr__(self, "_legacy_of", {k: tuple(v) for k, v in legacy_of.items()})
        object.__setattr__(self, "_predecessors",
                           {k: tuple(v) for k, v in predecessors.items()})

    def legacy_provinces(self, province: str) -> tuple[str, ...]:
        """The legacy provinces that became part of a 2025 province."""
        return self._legacy_of.get(province, ())

    def predecessors(self, commune: str) -> tuple[str, ...]:
        """The legacy units that became part of a 2025 commune whole."""
        return self._predecessors.get(commune, ())


def _codes(sql: str) -> dict[str, str]:
    return {str(key): str(code) for key, code in query(sql) if key is not None and code}


def province_successors(mergers: Mapping[str, list[str]] | None = None) -> dict[str, str]:
    """Legacy province code -> the 2025 province it became part of (all 63), from the
    package's mergers (2025 province key -> legacy province keys; read when not given)."""
    new_codes = _codes("SELECT DISTINCT provinceKey, provinceCode FROM admin_units")
    old_codes = _codes("SELECT DISTINCT provinceKey, provinceCode FROM admin_units_legacy")
    successors: dict[str, str] = {}
    for new_key, old_keys in (province_mergers() if mergers is None else mergers).items():
        for old_key in old_keys:
            old = old_codes[old_key]
            if successors.setdefault(old, new_codes[new_key]) != new_codes[new_key]:
                raise ValueError(f"legacy province {old} merged into two 2025 provinces")
    missing = set(old_codes.values()) - successors.keys()
    if missing:
        raise ValueError(f"legacy provinces without a 2025 successor: {sorted(missing)}")
    return successors


@cache
def load_conversion() -> Conversion:
    """The conversion from the installed ``vietnamadminunits`` (read once per process)."""
    return build_conversion(province_mergers(), *ward_mergers())


def build_conversion(mergers: Mapping[str, list[str]],
                     whole_by_key: Mapping[str, Mapping[str, list[str]]],
                     split_by_key: Mapping[str, Mapping[str, list[dict[str, object]]]],
                     ) -> Conversion:
    """Turn the package's keyed tables into codes, and apply :data:`DISAGREEMENTS`.

    ``mergers``: 2025 province key -> legacy province keys;
    ``whole_by_key``: 2025 province key -> 2025 commune key -> legacy unit keys
    (``province_district_commune``; an island district's ends with ``_``);
    ``split_by_key``: 2025 province key -> legacy unit key -> the candidates.
    """
    new_communes = _codes(
        "SELECT provinceKey || '_' || wardKey, wardCode FROM admin_units")
    old_units = _codes(
        "SELECT provinceKey || '_' || districtKey || '_' || COALESCE(wardKey, ''), "
        "COALESCE(wardCode, districtCode) FROM admin_units_legacy")
    provinces = province_successors(mergers)
    whole = {old_units[old]: new_communes[f"{province}_{commune}"]
             for province, communes in whole_by_key.items()
             for commune, olds in communes.items() for old in olds}
    split = {old_units[old]: tuple(sorted(new_communes[f"{province}_{c['newWardKey']}"]
                                          for c in candidates))
             for province, olds in split_by_key.items()
             for old, candidates in olds.items()}
    for old, chosen in DISAGREEMENTS.items():
        whole.pop(old, None)
        split.pop(old, None)
        if len(chosen) == 1:
            whole[old] = chosen[0]
        else:
            split[old] = chosen
    version = f"vietnamadminunits {installed_version()} + cungdan rules {RULES_VERSION}"
    return Conversion(version, provinces, whole, split)

