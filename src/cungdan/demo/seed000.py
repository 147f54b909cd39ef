"""Seed 000: Phú Bình and Phú Lương, 2024: illustrative monthly clean-ups.

The article has no figures; every note says the figures are illustrative.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from .articles import DU, NCTCD, PHU_BINH, PHU_LUONG
from .drafting import Draft, legacy_wards, place, second_saturday


def build(rng: random.Random) -> list[Draft]:
    """Phú Bình and Phú Lương, illustrative monthly clean-ups of 2024 (no article figures)."""
    drafts: list[Draft] = []
    districts = (
        (PHU_BINH, "Phú Bình", ("Khối cơ quan, trường học huyện Phú Bình",
                                "Phòng Giáo dục và Đào tạo huyện Phú Bình",
                                "Huyện đoàn Phú Bình", "Đảng ủy {place}")),
        (PHU_LUONG, "Phú Lương", ("Cơ quan Huyện ủy Phú Lương",
                                  "Hội Liên hiệp Phụ nữ huyện Phú Lương",
                                  "UBND {place}", "Đảng ủy {place}")),
    )
    for month in range(1, 12):
        date = second_saturday(2024, month)
        when = f"cuối tuần thứ hai tháng {month}/2024"
        if month == 2:  # 10/02/2024 is Tết Giáp Thìn: the weekend before
            date, when = dt.date(2024, 2, 3), "cuối tuần trước Tết Giáp Thìn"
        for district, district_name, units in districts:
            wards = dict(legacy_wards(district))
            if district == PHU_LUONG:
                places = [DU, rng.choice([c for c in sorted(wards) if c != DU])]
            else:
                places = rng.sample(sorted(wards), 2)
            for code in places:
                measures = {
                    "cleanup_sessions": Decimal(1),
                    "cleanup_road_km": Decimal(rng.randint(5, 30)) / 10,
                    "cadre_turns": Decimal(rng.randint(40, 160)),
                    "citizen_turns": Decimal(rng.randint(60, 300)),
                }
                if district == PHU_LUONG and rng.random() < 0.3:
                    measures["trees_planted"] = Decimal(rng.randint(5, 30) * 10)
                unit = rng.choice(units).format(place=place(wards[code]))
                drafts.append(Draft(
                    f"000/{district}/2024-{month:02d}/{code}", NCTCD, code,
                    date + dt.timedelta(rng.randint(0, 1)), unit,
                    f"Ngày cuối tuần cùng dân ({when}), huyện {district_name}: dọn vệ sinh,"
                    " thu gom rác, phát quang, nạo vét kênh mương. Số liệu minh họa,"
                    " bài báo không nêu số liệu.",
                    measures,
                ))
    return drafts
