"""Seed 001: Mù Cang Chải, three years of 'Ngày cuối tuần cùng dân' (2020-2022).

Every figure of the article is spread over the district's communes and weekends, over
reports of themed units (``_MCC_THEMES``); the bloc's and the military's own figures are
part of the district totals, not added on top.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

from .articles import (
    ARTICLE_TOTALS,
    BLOC_FIGURES,
    BLOC_UNIT,
    MILITARY_ROAD_KM,
    MILITARY_UNIT,
    MO_DE,
    MU_CANG_CHAI,
    NAM_KHAT,
    NCTCD,
)
from .drafting import (
    Draft,
    Theme,
    distribute,
    last_saturday,
    legacy_wards,
    pick_subsets,
    place,
    weekends,
)

_NOTES: Final[Mapping[str, Sequence[str]]] = {
    "propaganda_sessions": (
        "Tuyên truyền chủ trương của Đảng, chính sách, pháp luật tại bản, tổ dân phố",
        "Tuyên truyền phòng, chống dịch Covid-19",
        "Tuyên truyền phòng, chống mua bán người, ma túy, tệ nạn xã hội",
        "Tuyên truyền bảo vệ môi trường, nói không với rác thải nhựa",
        "Họp bản, lắng nghe tâm tư, nguyện vọng của Nhân dân",
    ),
    "road_km": (
        "Bê tông hóa đường giao thông liên bản",
        "Tu sửa, mở mới đường nông thôn",
        "Đổ bê tông đường nội bản",
    ),
    "lighting_km": (
        "Duy trì đường điện thắp sáng đường quê",
        "Sửa chữa, thay bóng tuyến điện chiếu sáng trong bản",
    ),
    "cleanup_sessions": (
        "Tổng vệ sinh môi trường đường nông thôn",
        "Thu gom rác thải, phát quang đường bản",
    ),
    "cleanup_road_km": ("Tổng vệ sinh môi trường đường nông thôn",),
    "trees_planted": ("Trồng cây xanh ven đường bản, tổ dân phố",),
    "flower_road_km": ("Trồng hoa, làm đường hoa tại bản",),
    "self_managed_roads": ("Ra mắt mô hình tuyến đường tự quản",),
    "houses_built": (
        "Làm nhà cho hộ nghèo đặc biệt khó khăn",
        "Xóa nhà dột nát cho hộ nghèo",
    ),
    "toilets_built": ("Xây dựng nhà vệ sinh hợp vệ sinh cho hộ gia đình",),
    "cement_tonnes": ("Hỗ trợ xi măng làm đường, nhà vệ sinh",),
    "donations_vnd": (
        "Vận động ủng hộ xây dựng nông thôn mới (tiền mặt và hiện vật quy ra tiền)",
    ),
    "terraced_field_ha": ("Giúp Nhân dân khai hoang ruộng bậc thang",),
    "enterprises_founded": ("Hỗ trợ thành lập doanh nghiệp, hợp tác xã, tổ hợp tác",),
    "cooperatives_founded": ("Hỗ trợ thành lập hợp tác xã, tổ hợp tác",),
    "cooperative_groups_founded": ("Hướng dẫn thành lập tổ hợp tác sản xuất",),
    "cadre_turns": ("Cán bộ, đảng viên cùng Nhân dân làm công trình, phần việc tại bản",),
    "citizen_turns": ("Nhân dân cùng cán bộ, đảng viên làm công trình, phần việc tại bản",),
    "workdays": ("Ngày công tu sửa, mở mới, bê tông đường nông thôn tại bản phụ trách",),
    "party_cell_sessions": (
        "Sinh hoạt chi bộ bản: tuyên truyền nghị quyết, phòng chống bão lụt, dịch Covid-19",
    ),
}

_MCC_THEMES: Final = (
    Theme(
        "propaganda", 22, ("propaganda_sessions", "listener_turns"), (),
        (
            ("Ban Tuyên giáo Huyện ủy Mù Cang Chải", True),
            ("Trung tâm Truyền thông - Văn hóa huyện Mù Cang Chải", True),
            ("Đảng ủy {place}", False),
            ("Đảng ủy {place}", False),
            ("Công an huyện Mù Cang Chải", False),
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
        ),
    ),
    Theme(
        "road", 26, ("road_km",), ("cement_tonnes", "cadre_turns", "citizen_turns"),
        (
            ("Đảng ủy {place}", False),
            ("UBND {place}", False),
            ("Liên đoàn Lao động huyện Mù Cang Chải", False),
            ("Huyện đoàn Mù Cang Chải", False),
            ("Công an huyện Mù Cang Chải", False),
            ("Hội Cựu chiến binh huyện Mù Cang Chải", False),
        ),
    ),
    Theme(
        "lighting", 8, ("lighting_km",), ("cadre_turns", "citizen_turns"),
        (
            ("Đảng ủy {place}", False),
            ("Huyện đoàn Mù Cang Chải", False),
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
        ),
    ),
    Theme(
        "environment", 24, (),
        ("cleanup_sessions", "cleanup_road_km", "trees_planted", "flower_road_km",
         "self_managed_roads"),
        (
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
            ("Huyện đoàn Mù Cang Chải", False),
            ("Công an huyện Mù Cang Chải", False),
            ("Đảng ủy {place}", False),
            ("Ủy ban MTTQ {place}", False),
            ("Hội Nông dân huyện Mù Cang Chải", False),
        ),
    ),
    Theme(
        "housing", 14, (),
        ("houses_built", "toilets_built", "cement_tonnes", "cadre_turns", "citizen_turns"),
        (
            ("Ủy ban MTTQ huyện Mù Cang Chải", False),
            (MILITARY_UNIT, False),
            ("Hội Cựu chiến binh huyện Mù Cang Chải", False),
            ("Đảng ủy {place}", False),
            ("Hội Liên hiệp Phụ nữ huyện Mù Cang Chải", False),
        ),
    ),
    Theme(
        "donations", 8, ("donations_vnd",), ("cement_tonnes",),
        (
            ("Ủy ban MTTQ huyện Mù Cang Chải", True),
            ("Ban Chỉ đạo xây dựng nông thôn mới huyện Mù Cang Chải", True),
            ("Ủy ban MTTQ {place}", False),
        ),
    ),
    Theme(
        "terraces", 8, ("terraced_field_ha",), ("citizen_turns", "cadre_turns"),
        (
            ("Đảng ủy {place}", False),
            ("Phòng Nông nghiệp và PTNT huyện Mù Cang Chải", False),
            ("Hội Nông dân huyện Mù Cang Chải", False),
        ),
    ),
    Theme(
        "economy", 8, (),
        ("enterprises_founded", "cooperatives_founded", "cooperative_groups_founded"),
        (
            ("Phòng Tài chính - Kế hoạch huyện Mù Cang Chải", True),
            ("UBND {place}", False),
        ),
    ),
)


def build(rng: random.Random) -> list[Draft]:
    """Mù Cang Chải, three years of 'Ngày cuối tuần cùng dân' (2020-2022)."""
    wards = dict(legacy_wards(MU_CANG_CHAI))
    communes = sorted(wards)
    weekend_days = weekends(dt.date(2020, 1, 1), dt.date(2022, 12, 31))
    drafts: list[Draft] = []
    takers: dict[str, list[Draft]] = {}

    def new(key: str, locality: str, date: dt.date, unit: str, takes: Sequence[str]) -> Draft:
        draft = Draft(f"001/{key}", NCTCD, locality, date, unit)
        drafts.append(draft)
        for indicator in takes:
            takers.setdefault(indicator, []).append(draft)
        return draft

    for q in range(12):  # district-level quarterly summaries of leaders' visits
        year, quarter = 2020 + q // 4, q % 4 + 1
        draft = new(
            f"leaders/{year}-q{quarter}", MU_CANG_CHAI, last_saturday(year, 3 * quarter),
            "Ban Tổ chức Huyện ủy Mù Cang Chải", ("leader_cell_visits",),
        )
        draft.note = f"Quý {quarter}/{year}: lãnh đạo huyện dự sinh hoạt chi bộ, đảng bộ cơ sở"

    # The bloc's and the military's own figures, part of the district totals.
    bloc_takers: dict[str, list[Draft]] = {}
    for i, own in enumerate(pick_subsets((), tuple(BLOC_FIGURES), 8, rng)):
        draft = new(f"bloc/{i}", rng.choice(communes), rng.choice(weekend_days), BLOC_UNIT,
                    ("cadre_turns",))
        draft.note = _NOTES[own[0]][0]
        for indicator in own:
            bloc_takers.setdefault(indicator, []).append(draft)
    distribute(bloc_takers, BLOC_FIGURES, rng)

    military_takers: dict[str, list[Draft]] = {"road_km": []}
    for commune in (NAM_KHAT, MO_DE):
        draft = new(f"military/{commune}", commune, rng.choice(weekend_days), MILITARY_UNIT,
                    ("citizen_turns", "cement_tonnes"))
        spelled = " (bài báo viết 'Mỏ Dẻ')" if commune == MO_DE else ""
        draft.note = f"Phối hợp dân quân xã mở mới đường nông thôn tại {place(wards[commune])}"
        draft.note += spelled
        military_takers["road_km"].append(draft)
    distribute(military_takers, {"road_km": MILITARY_ROAD_KM}, rng)

    for theme in _MCC_THEMES:
        chosen = pick_subsets(theme.core, theme.optional, theme.count, rng)
        for i, picks in enumerate(chosen):
            unit, district_level = rng.choice(theme.units)
            commune = rng.choice(communes)
            locality = MU_CANG_CHAI if district_level else commune
            unit = unit.format(place=place(wards[commune]))
            draft = new(f"{theme.name}/{i:02d}", locality, rng.choice(weekend_days), unit, picks)
            draft.note = rng.choice(_NOTES[picks[0]])

    totals = ARTICLE_TOTALS[(MU_CANG_CHAI, NCTCD)]
    already = {
        "road_km": BLOC_FIGURES["road_km"] + MILITARY_ROAD_KM,
        "lighting_km": BLOC_FIGURES["lighting_km"],
        "workdays": BLOC_FIGURES["workdays"],
        "party_cell_sessions": BLOC_FIGURES["party_cell_sessions"],
    }
    rest = {k: v - already.get(k, Decimal(0)) for k, v in totals.items()}
    distribute(takers, {k: v for k, v in rest.items() if v}, rng)
    return drafts
