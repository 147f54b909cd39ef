"""Realistic random reports for load, fault and benchmark runs (deterministic per seed).

Communes drawn across all provinces of both maps (dates before the reform use the
legacy map, after it the 2025 map), 1-5 measures each from the indicators a
campaign typically reports, and the campaign mix of the articles.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from cungdan_contracts import INDICATORS, AdminMap, Level, load_gazetteer
from cungdan_contracts.localities import REFORM_DATE

CAMPAIGN_MIX: dict[str, float] = {
    "ngay-cuoi-tuan-cung-dan": 0.40,
    "dan-van-kheo": 0.25,
    "xay-dung-nong-thon-moi": 0.20,
    "hoc-tap-lam-theo-bac": 0.10,
    "xuan-tinh-nguyen": 0.05,
}
UNITS = ("Ban CHQS huyện", "Công an huyện", "Khối Đảng - đoàn thể", "Đảng ủy xã",
         "Hội Liên hiệp Phụ nữ", "Đoàn Thanh niên", "Hội Nông dân", "Mặt trận Tổ quốc")
LEGACY_SPAN = (dt.date(2022, 1, 1), REFORM_DATE - dt.timedelta(days=1))
Y2025_SPAN = (REFORM_DATE, dt.date(2026, 6, 30))


def _communes(admin_map: AdminMap) -> list[str]:
    """The communes of the map's latest list that were in force over the whole span its
    reports are dated in (a commune created in 2025 cannot report in 2022)."""
    gazetteer = load_gazetteer()
    first = (LEGACY_SPAN if admin_map is AdminMap.LEGACY else Y2025_SPAN)[0]
    codes: list[str] = []
    stack = ["VN"]
    while stack:
        for child in gazetteer.children(admin_map, stack.pop()):
            if child.level is Level.COMMUNE:
                if child.in_force_on(first):
                    codes.append(child.code)
            else:
                stack.append(child.code)
    return sorted(codes)


def _quantity(rng: random.Random, indicator: str) -> str:
    scale = INDICATORS[indicator].scale
    if indicator == "donations_vnd":
        return str(rng.randint(1, 500) * 100_000)
    if scale:
        return str(Decimal(rng.randint(1, 5000)).scaleb(-min(scale, 2)))
    return str(rng.randint(1, 300))


def random_reports(count: int, *, seed: int = 1, legacy_share: float = 0.5,
                   namespace: uuid.UUID | None = None) -> Iterator[dict[str, Any]]:
    """``count`` valid reports in the ingest API's JSON shape."""
    rng = random.Random(seed)
    ids = namespace or uuid.UUID(int=seed)
    communes = {m: _communes(m) for m in AdminMap}
    campaigns, weights = zip(*CAMPAIGN_MIX.items(), strict=True)
    indicators = sorted(INDICATORS)
    for n in range(count):
        admin_map = AdminMap.LEGACY if rng.random() < legacy_share else AdminMap.Y2025
        first, last = LEGACY_SPAN if admin_map is AdminMap.LEGACY else Y2025_SPAN
        day = first + dt.timedelta(days=rng.randint(0, (last - first).days))
        chosen = rng.sample(indicators, rng.randint(1, 5))
        yield {
            "id": str(uuid.uuid5(ids, str(n))),
            "campaign": rng.choices(campaigns, weights)[0],
            "locality": rng.choice(communes[admin_map]),
            "date": day.isoformat(),
            "unit": rng.choice(UNITS),
            "measures": {code: _quantity(rng, code) for code in chosen},
        }
