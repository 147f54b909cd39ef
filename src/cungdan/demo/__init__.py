"""Deterministic demo activity reports built from the five seed articles.

``demo_reports()`` returns reports in the ingest API's JSON shape. Ids are ``uuid5`` of a
fixed namespace and a stable key, so loading the demo twice yields duplicates, not new
events. Amounts are split with ``random.Random(fixed seed)``; sums are exact.

What comes from where:

* Seed 001 (Mù Cang Chải 137, ``ngay-cuoi-tuan-cung-dan``): every figure of the article
  (``ARTICLE_TOTALS``), spread over the district's communes and weekends of 2020-2022,
  some reports at district level. The article says only "3 years"; it cites Covid-19
  work, and Báo Yên Bái (29/02/2024) reports ~37,000 citizen turns for 2022 and ~208,000 for
  2023 alone, so the 50,000 of the article must cover 2020-2022. "Over/nearly N" is
  taken as N. The bloc's 500 workdays, 11 km road, 5 km lighting and 200 party-cell
  sessions and the military's ~6 km road (Nậm Khắt, Mồ Dề; "Mỏ Dẻ" in the article) are
  part of the district totals, not added on top.
* Seed 002 (Ba Bể 061, ``dan-van-kheo``, 2023): 128 models registered, 10 of them by
  individuals (unit text starts with "Cá nhân"); the Huyện ủy office model at Khuổi
  Tẩu (Phúc Lộc) and Thượng Giáo commune are included. The split over units and
  communes is invented.
* Seed 003 (Trường Sơn ward 14836, ``dan-van-kheo``, April 2023): 7 models recognised,
  one per report; the article names 6 of them, the 7th is taken from its paragraph on
  the political system. The Lê Lợi flower road carries 310 pots, 2 km, 310 million VND.
* Seed 004 (Sơn Thủy 15010, Quan Sơn, 2024): the article gives no activity counts, only
  16 party cells and ~270 members. So: one ``hoc-tap-lam-theo-bac`` report per model it
  names (10, ``models_registered`` 1 each) and one ``xuan-tinh-nguyen`` report for the
  youth union's launch with the Na Mèo border post (``cleanup_sessions`` 1, assumed).
* Seed 000 (Phú Bình 173, Phú Lương 168, 2024): the article has no figures. Illustrative
  monthly clean-ups on the second weekend of each month, January to November 2024
  (February moved to the weekend before Tết), marked "số liệu minh họa" in each note.

The package: ``articles`` holds the facts taken from the articles (codes, campaigns,
units, ``ARTICLE_TOTALS``), ``drafting`` the generic machinery (drafts, exact splits,
subsets, dates, the communes of both maps), ``seed000`` to ``seed004`` one builder
each, and ``after_reform`` the 2025-map builder.
"""

from __future__ import annotations

import random

from . import after_reform, seed000, seed001, seed002, seed003, seed004
from .articles import ARTICLE_TOTALS
from .drafting import DEMO_NAMESPACE

__all__ = ["ARTICLE_TOTALS", "DEMO_NAMESPACE", "demo_reports"]


def demo_reports() -> list[dict[str, object]]:
    """All demo activity reports, in the ingest API's JSON shape; same output every call."""
    groups = (
        seed000.build(random.Random(2024_000)),
        seed001.build(random.Random(2024_001)),
        seed002.build(random.Random(2024_002)),
        seed003.build(),
        seed004.build(),
        after_reform.build(random.Random(2025_015)),
    )
    reports: list[dict[str, object]] = []
    for drafts in groups:
        for draft in sorted(drafts, key=lambda d: (d.date, d.locality, d.key)):
            if not 1 <= len(draft.measures) <= 5:
                raise AssertionError(f"{draft.key}: {len(draft.measures)} measures")
            reports.append(draft.to_json())
    return reports
