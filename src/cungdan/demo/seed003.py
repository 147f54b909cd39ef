"""Seed 003: Trường Sơn ward (Sầm Sơn), April 2023: 7 'Dân vận khéo' models recognised.

One report per model; the article names 6 of them, the 7th is taken from its paragraph on
the political system.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .articles import DAN_VAN_KHEO, TRUONG_SON
from .drafting import Draft


def build() -> list[Draft]:
    """Trường Sơn ward (Sầm Sơn), April 2023: 7 'Dân vận khéo' models recognised."""
    one = {"models_recognised": Decimal(1)}
    models = (
        ("Khối dân vận phường Trường Sơn", dt.date(2023, 4, 4),
         "Mô hình 'Đảm bảo mỹ quan đô thị đường hoa Lê Lợi': 310 chậu hoa giấy trên 2 km,"
         " từ đường Hồ Xuân Hương đến đường Lý Tự Trọng, cầu Bình Hòa",
         {**one, "flower_pots": Decimal(310), "flower_road_km": Decimal(2),
          "donations_vnd": Decimal(310000000)}),
        ("Hội Nông dân phường Trường Sơn", dt.date(2023, 4, 6),
         "Mô hình 'Tổ tiết kiệm hỗ trợ hội viên nông dân khó khăn'", one),
        ("UBND phường Trường Sơn", dt.date(2023, 4, 11),
         "Mô hình 'Vận động Nhân dân xây dựng chợ đảm bảo an toàn thực phẩm'", one),
        ("Ủy ban MTTQ phường Trường Sơn", dt.date(2023, 4, 13),
         "Mô hình 'Đường điện thắp sáng khu dân cư'", one),
        ("Hội Liên hiệp Phụ nữ phường Trường Sơn", dt.date(2023, 4, 18),
         "Mô hình 'Ngôi nhà trí tuệ'", one),
        ("Chi bộ khu dân cư phường Trường Sơn", dt.date(2023, 4, 20),
         "Mô hình 'Cụm dân cư kiểu mẫu'", one),
        ("Đảng ủy phường Trường Sơn", dt.date(2023, 4, 25),
         "Mô hình tăng cường tiếp dân, đối thoại, giải quyết kiến nghị của Nhân dân", one),
    )
    return [
        Draft(f"003/model/{i}", DAN_VAN_KHEO, TRUONG_SON, date, unit, note, dict(measures))
        for i, (unit, date, note, measures) in enumerate(models)
    ]
