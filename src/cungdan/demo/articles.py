"""Facts taken from the seed articles: locality codes, campaigns, units and totals.

The codes are of the legacy (pre-2025) administrative map. See the package docstring for
which article each figure comes from and how it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

NCTCD: Final = "ngay-cuoi-tuan-cung-dan"
DAN_VAN_KHEO: Final = "dan-van-kheo"
HOC_TAP_BAC: Final = "hoc-tap-lam-theo-bac"
XUAN_TINH_NGUYEN: Final = "xuan-tinh-nguyen"

MU_CANG_CHAI: Final = "137"
NAM_KHAT: Final = "04495"
MO_DE: Final = "04468"
BA_BE: Final = "061"
PHUC_LOC: Final = "01894"
THUONG_GIAO: Final = "01912"
TRUONG_SON: Final = "14836"
QUAN_SON: Final = "387"
SON_THUY: Final = "15010"
PHU_LUONG: Final = "168"
DU: Final = "05611"
PHU_BINH: Final = "173"

BLOC_UNIT: Final = "Đảng bộ Khối Đảng - đoàn thể huyện Mù Cang Chải"
MILITARY_UNIT: Final = "Ban CHQS huyện Mù Cang Chải"
INDIVIDUAL_PREFIX: Final = "Cá nhân"

ARTICLE_TOTALS: Final[Mapping[tuple[str, str], Mapping[str, Decimal]]] = {
    (MU_CANG_CHAI, NCTCD): {
        "leader_cell_visits": Decimal(4600),
        "cadre_turns": Decimal(17500),
        "citizen_turns": Decimal(50000),
        "propaganda_sessions": Decimal(15300),
        "listener_turns": Decimal(300000),
        "road_km": Decimal(150),
        "houses_built": Decimal(98),
        "lighting_km": Decimal(30),
        "self_managed_roads": Decimal(77),
        "trees_planted": Decimal(15000),
        "flower_road_km": Decimal(80),
        "cleanup_sessions": Decimal(1400),
        "cleanup_road_km": Decimal(35),
        "toilets_built": Decimal(1700),
        "cement_tonnes": Decimal(2110),
        "terraced_field_ha": Decimal(150),
        "donations_vnd": Decimal(2400000000),
        "enterprises_founded": Decimal(15),
        "cooperatives_founded": Decimal(14),
        "cooperative_groups_founded": Decimal(247),
        "workdays": Decimal(500),
        "party_cell_sessions": Decimal(200),
    },
    (BA_BE, DAN_VAN_KHEO): {"models_registered": Decimal(128)},
    (TRUONG_SON, DAN_VAN_KHEO): {
        "models_recognised": Decimal(7),
        "flower_pots": Decimal(310),
        "flower_road_km": Decimal(2),
        "donations_vnd": Decimal(310000000),
    },
}

BLOC_FIGURES: Final[Mapping[str, Decimal]] = {
    "workdays": Decimal(500),
    "road_km": Decimal(11),
    "lighting_km": Decimal(5),
    "party_cell_sessions": Decimal(200),
}
MILITARY_ROAD_KM: Final = Decimal(6)
BA_BE_INDIVIDUAL_MODELS: Final = 10
