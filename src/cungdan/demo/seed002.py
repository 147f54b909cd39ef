"""Seed 002: Ba Bể, 'Dân vận khéo' 2023: 128 models registered, 10 of them by individuals.

The Huyện ủy office model at Khuổi Tẩu (Phúc Lộc) and Thượng Giáo commune come from the
article; the split over units and communes is invented.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from .articles import (
    ARTICLE_TOTALS,
    BA_BE,
    BA_BE_INDIVIDUAL_MODELS,
    DAN_VAN_KHEO,
    INDIVIDUAL_PREFIX,
    PHUC_LOC,
    THUONG_GIAO,
)
from .drafting import Draft, distribute, legacy_wards, place, weekdays


def build(rng: random.Random) -> list[Draft]:
    """Ba Bể, 'Dân vận khéo' 2023: 128 models registered, 10 of them by individuals."""
    wards = legacy_wards(BA_BE)
    names = dict(wards)
    days = weekdays(dt.date(2023, 1, 3), dt.date(2023, 4, 28))
    office = Draft(
        "002/huyen-uy-office", DAN_VAN_KHEO, PHUC_LOC, dt.date(2023, 1, 16),
        "Chi bộ Văn phòng Huyện ủy Ba Bể",
        "Mô hình 'Vận động nhân dân xây dựng và bảo vệ môi trường xanh, sạch, đẹp',"
        " thôn Khuổi Tẩu",
        {"models_registered": Decimal(1)},
    )
    organisations: list[Draft] = []
    for code, name in wards:
        note = "Đăng ký mô hình 'Dân vận khéo' năm 2023"
        if code == THUONG_GIAO:
            note += ": duy trì tiêu chí môi trường xã nông thôn mới, tu sửa đường liên thôn"
        organisations.append(Draft(
            f"002/commune/{code}", DAN_VAN_KHEO, code, rng.choice(days),
            f"Đảng ủy {place(name)}", note,
        ))
    for unit in (
        "Ban Dân vận Huyện ủy Ba Bể", "Ủy ban MTTQ huyện Ba Bể", "Huyện đoàn Ba Bể",
        "Hội Liên hiệp Phụ nữ huyện Ba Bể", "Hội Nông dân huyện Ba Bể",
        "Hội Cựu chiến binh huyện Ba Bể", "Công an huyện Ba Bể", "Ban CHQS huyện Ba Bể",
        "Liên đoàn Lao động huyện Ba Bể", "UBND huyện Ba Bể",
    ):
        organisations.append(Draft(
            f"002/district/{unit}", DAN_VAN_KHEO, BA_BE, rng.choice(days), unit,
            "Đăng ký mô hình 'Dân vận khéo' năm 2023 (kinh tế - xã hội, giảm nghèo, an ninh)",
        ))
    total = ARTICLE_TOTALS[(BA_BE, DAN_VAN_KHEO)]["models_registered"]
    rest = total - 1 - BA_BE_INDIVIDUAL_MODELS
    distribute({"models_registered": organisations}, {"models_registered": rest}, rng)
    individuals = []
    for i in range(BA_BE_INDIVIDUAL_MODELS):
        code = rng.choice(sorted(names))
        individuals.append(Draft(
            f"002/individual/{i}", DAN_VAN_KHEO, code, rng.choice(days),
            f"{INDIVIDUAL_PREFIX}: đảng viên Đảng bộ {place(names[code])}",
            "Mô hình 'Dân vận khéo' cá nhân đăng ký năm 2023",
            {"models_registered": Decimal(1)},
        ))
    return [office, *organisations, *individuals]
