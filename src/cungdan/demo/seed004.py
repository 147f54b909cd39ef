"""Seed 004: Sơn Thủy commune (Quan Sơn), 2024: the models the article names, and the
youth union's 'Xuân tình nguyện' launch (the article gives no activity counts).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .articles import HOC_TAP_BAC, QUAN_SON, SON_THUY, XUAN_TINH_NGUYEN
from .drafting import Draft, legacy_wards


def build() -> list[Draft]:
    """Sơn Thủy commune (Quan Sơn), 2024: models named in the article, Xuân tình nguyện."""
    if SON_THUY not in dict(legacy_wards(QUAN_SON)):
        raise LookupError(f"{SON_THUY} is not in legacy district {QUAN_SON}")
    models = (
        ("Công an xã Sơn Thủy", "Khu dân cư không có tội phạm và tệ nạn xã hội"),
        ("Hội Liên hiệp Phụ nữ xã Sơn Thủy", "Đoạn đường tự quản"),
        ("Đoàn Thanh niên xã Sơn Thủy", "Thắp sáng đường quê"),
        ("Hội Nông dân xã Sơn Thủy", "Thu gom rác thải trong sinh hoạt ở khu dân cư"),
        ("Hội Khuyến học xã Sơn Thủy", "Dòng họ khuyến học, khuyến tài"),
        ("Ủy ban MTTQ xã Sơn Thủy", "Thôn xóm bình yên, gia đình hòa thuận"),
        ("Đảng ủy xã Sơn Thủy", "Dân vận khéo, làm theo phong cách gần dân, sát dân"),
        ("Ủy ban MTTQ xã Sơn Thủy",
         "Toàn dân đoàn kết xây dựng đời sống văn hóa, chung tay bảo vệ môi trường"
         " sáng - xanh - sạch - đẹp"),
        ("Hội Cựu chiến binh xã Sơn Thủy", "Tuyến đường hoa"),
        ("UBND xã Sơn Thủy", "Nghe dân nói, nói dân nghe"),
    )
    drafts = [
        Draft(
            f"004/model/{i}", HOC_TAP_BAC, SON_THUY, dt.date(2024, 1, 8) + dt.timedelta(i * 3),
            unit, f"Mô hình học tập và làm theo Bác: '{name}'",
            {"models_registered": Decimal(1)},
        )
        for i, (unit, name) in enumerate(models)
    ]
    drafts.append(Draft(
        "004/xuan-tinh-nguyen-2024", XUAN_TINH_NGUYEN, SON_THUY, dt.date(2024, 1, 27),
        "Đoàn Thanh niên xã Sơn Thủy phối hợp Đồn Biên phòng Cửa khẩu quốc tế Na Mèo",
        "Ra quân 'Xuân tình nguyện năm 2024' (bài báo không nêu số liệu; 1 buổi ra quân)",
        {"cleanup_sessions": Decimal(1)},
    ))
    return drafts
