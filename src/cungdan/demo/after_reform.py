"""After the reform: Mù Cang Chải's communes in today's Lào Cai, July 2025 to October 2026.

On 2025-07-01 legacy Yên Bái (15), Mù Cang Chải district (137) with it, became part of
the 2025 province Lào Cai (also 15), which has no districts: the district's communes were
merged into 2025 communes (04468 Mồ Dề into 04456 Mù Cang Chải, 04495 Nậm Khắt into
04492 Púng Luông, ...). Reports from then on are made on the 2025 map, by the communes.
So the demo has a province whose history spans the reform: seed 001's 2020-2022 reports
(legacy map) and these (2025 map) are read together by ``GET /v1/totals/15?map=2025``.

No article gives figures after the reform: these are illustrative monthly
"Ngày cuối tuần cùng dân" of the 2025 communes made only of Mù Cang Chải's legacy
communes (by the official conversion), on the second weekend of each month, and every
note says so.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from .articles import MU_CANG_CHAI, NCTCD
from .drafting import Draft, place, second_saturday, successor_communes

LAO_CAI: Final = "15"
"""Lào Cai on the 2025 map (legacy Lào Cai 10 and Yên Bái 15)."""
FIRST_MONTH: Final = (2025, 7)
LAST_MONTH: Final = (2026, 10)

_UNITS: Final = (
    "Đảng ủy {place}",
    "UBND {place}",
    "Ủy ban MTTQ Việt Nam {place}",
    "Đoàn Thanh niên {place}",
    "Ban CHQS {place}",
)
# What a month's weekend adds to the clean-up, by season: concrete roads in the dry
# season, trees at the spring planting and in the first rains.
_EXTRA: Final[Mapping[str, frozenset[int]]] = {
    "road_km": frozenset({1, 3, 4, 10, 11, 12}),
    "trees_planted": frozenset({2, 3, 7, 8}),
}
_WORK: Final[Mapping[str, str]] = {
    "road_km": "đổ bê tông đường nội bản",
    "trees_planted": "trồng cây xanh ven đường bản",
}


def _months() -> list[tuple[int, int]]:
    year, month = FIRST_MONTH
    months = []
    while (year, month) <= LAST_MONTH:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def build(rng: random.Random) -> list[Draft]:
    """Two of Mù Cang Chải's 2025 communes a month, illustrative figures (no article's)."""
    communes = dict(successor_communes(MU_CANG_CHAI))
    drafts: list[Draft] = []
    for year, month in _months():
        when = f"cuối tuần thứ hai tháng {month}/{year}"
        work = "dọn vệ sinh đường bản, thu gom rác thải, phát quang"
        if (year, month) == (2026, 2):  # 14-15/02/2026, the weekend before Tết (17/02)
            work = "tổng vệ sinh đón Tết Bính Ngọ, thu gom rác thải, phát quang"
        for code in rng.sample(sorted(communes), 2):
            measures = {
                "cleanup_sessions": Decimal(1),
                "cleanup_road_km": Decimal(rng.randint(5, 30)) / 10,
                "cadre_turns": Decimal(rng.randint(20, 120)),
                "citizen_turns": Decimal(rng.randint(80, 400)),
            }
            works = [work]
            extras = [k for k, months in _EXTRA.items() if month in months]
            if extras and rng.random() < 0.5:
                extra = rng.choice(extras)
                measures[extra] = (Decimal(rng.randint(2, 15)) / 10 if extra == "road_km"
                                   else Decimal(rng.randint(5, 40) * 10))
                works.append(_WORK[extra])
            where = place(communes[code])
            drafts.append(Draft(
                f"after-reform/{LAO_CAI}/{year}-{month:02d}/{code}", NCTCD, code,
                second_saturday(year, month) + dt.timedelta(rng.randint(0, 1)),
                rng.choice(_UNITS).format(place=where),
                f"Ngày cuối tuần cùng dân ({when}), {where}, tỉnh Lào Cai: "
                f"{'; '.join(works)}. Số liệu minh họa: không bài báo nào nêu số liệu"
                " sau sắp xếp đơn vị hành chính (01/7/2025).",
                measures,
            ))
    return drafts
