"""The committee page's pure parts: Vietnamese figures, the view model, completeness and
the exports (the browser test, tests/e2e/test_committee_page.py, drives the page)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from cungdan_contracts import AdminMap, Level, Locality, load_gazetteer
from cungdan_projector.completeness import Reports, completeness
from cungdan_projector.exports import to_csv, to_xlsx
from cungdan_projector.places import coordinates
from cungdan_projector.ui_graphics import chart, map_view
from cungdan_projector.ui_html import body_rows
from cungdan_projector.ui_model import children_table, page, selected_indicator, totals_table
from cungdan_projector.ui_tables import ViewQuery, cell_text
from cungdan_projector.vnformat import vn_date, vn_number, vn_percent, vn_quantity

Y2025 = AdminMap.Y2025


@pytest.mark.parametrize(("value", "text"), [
    ("2400000000", "2.400.000.000"), ("150", "150"), ("1.5", "1,5"), ("0", "0"),
    ("-1234.25", "-1.234,25"), ("1000", "1.000"), (Decimal("12345.6"), "12.345,6"),
    (999, "999"), (1000000, "1.000.000"),
])
def test_vietnamese_numbers(value: Any, text: str) -> None:
    assert vn_number(value) == text


def test_quantities_dates_and_shares_read_the_vietnamese_way() -> None:
    assert vn_quantity("2400000000", "VND") == "2.400.000.000 đồng"
    assert vn_quantity("150", "km") == "150 km"
    assert vn_quantity("2110", "tonnes") == "2.110 tấn"
    assert vn_date(dt.date(2025, 7, 1)) == "01/07/2025"
    assert vn_percent(0.125) == "12,5 %" and vn_percent(1.0) == "100 %"


def test_a_view_is_a_link_with_the_totals_parameters() -> None:
    query = ViewQuery("15", Y2025, campaign="dan-van-kheo", period="2025-Q3")
    assert query.url() == "/ui/15?map=2025&campaign=dan-van-kheo&period=2025-Q3"
    assert query.url("04456") == "/ui/04456?map=2025&campaign=dan-van-kheo&period=2025-Q3"
    assert query.url(suffix="/children.csv").startswith("/ui/15/children.csv?map=2025&")
    dated = ViewQuery("VN", AdminMap.LEGACY, date_from=dt.date(2024, 1, 1))
    assert dated.url() == "/ui/VN?map=legacy&from=2024-01-01"


def _body() -> dict[str, Any]:
    """A 2025 province's totals answer as ``GET /v1/totals`` gives it."""
    return {
        "position": 7,
        "totals": {"road_km": "157.7", "donations_vnd": "2400000000", "houses_built": "98"},
        "from_legacy": {"road_km": "150", "donations_vnd": "2400000000"},
        "children": [
            {"code": "04456", "name": "Xã Mù Cang Chải", "level": "commune",
             "totals": {"road_km": "7.7", "houses_built": "3"}, "from_legacy": {}},
            {"code": "02647", "name": "Phường Lào Cai", "level": "commune",
             "totals": {"houses_built": "5"}, "from_legacy": {}},
            {"code": None, "name": "Chưa phân bổ", "level": "unattributed",
             "unattributed": True, "totals": {"road_km": "150", "donations_vnd": "2400000000"},
             "from_legacy": {"road_km": "150", "donations_vnd": "2400000000"}, "sources": []},
        ],
    }


def test_the_tables_hold_the_answers_exact_numbers() -> None:
    query = ViewQuery("15")
    totals = totals_table(query, _body())
    assert [r.cells[2] for r in totals.rows] == [
        Decimal("157.7"), Decimal("98"), Decimal("2400000000")]  # catalog order
    assert totals.rows[0].cells[3:] == (Decimal("150"), Decimal("95.1"))  # from legacy, %
    assert cell_text(totals.rows[2].cells[2]) == "2.400.000.000"
    children = children_table(query, _body())
    assert [c.key for c in children.columns] == ["code", "name", "road_km", "houses_built",
                                                  "donations_vnd"]
    first, second, unattributed = children.rows
    assert first.cells[2:] == (Decimal("7.7"), Decimal("3"), Decimal("0"))
    assert first.link == "/ui/04456?map=2025" and second.link == "/ui/02647?map=2025"
    assert unattributed.link is None and unattributed.note
    one = children_table(ViewQuery("15", indicator="houses_built"), _body())
    assert [c.key for c in one.columns] == ["code", "name", "houses_built"]


def test_the_chart_and_map_show_the_indicator_the_children_share() -> None:
    assert selected_indicator(ViewQuery("15"), _body()) == "houses_built"  # 2 children
    assert selected_indicator(ViewQuery("15", indicator="road_km"), _body()) == "road_km"
    bars = chart({202506: 1000, 202508: 3000}, "road_km")  # units: 1 and 3 km
    assert bars is not None
    assert [b.label for b in bars.bars] == ["06/2025", "07/2025", "08/2025"]
    assert [b.height for b in bars.bars][1] == 0 and bars.bars[2].height > bars.bars[0].height
    assert "3 km" in bars.peak and chart({}, "road_km") is None
    gazetteer = load_gazetteer()
    children = gazetteer.children(Y2025, "15")
    drawn = map_view(ViewQuery("15"), children, {"04456": Decimal(3), "02647": Decimal(5)},
                     coordinates(Y2025), "houses_built")
    assert drawn is not None and len(drawn.dots) + drawn.missing == len(children)
    big = max(drawn.dots, key=lambda d: d.r)
    assert big.link == "/ui/02647?map=2025" and "5 căn" in big.title
    assert all(0 <= d.cx <= drawn.width and 0 <= d.cy <= drawn.height for d in drawn.dots)


def _place(code: str, level: Level = Level.COMMUNE) -> Locality:
    return Locality(Y2025, code, f"Xã {code}", level, "15")


def test_completeness_attributes_reports_to_children() -> None:
    province = Locality(Y2025, "15", "Lào Cai", Level.PROVINCE, "VN")
    kids = [_place("04456"), _place("02647"), _place("02680")]
    found = completeness(province, kids, [
        Reports("04456,15,VN", 3, dt.date(2025, 9, 1), 2),
        Reports("02647,15,VN", 1, dt.date(2024, 1, 1), 0),
        Reports("15,VN", 9, dt.date(2025, 9, 9), 9),  # the province's own: no child's
    ], dt.date(2025, 7, 1), dt.date(2025, 12, 31))
    assert [(c.reports, c.reports_all_time, c.last_report, c.reported)
            for c in found.children] == [(2, 3, dt.date(2025, 9, 1), True),
                                         (0, 1, dt.date(2024, 1, 1), False),
                                         (0, 0, None, False)]
    assert found.reported_count == 1 and found.share == pytest.approx(1 / 3)
    assert found.as_json()["share"] == 0.3333
    nation = Locality(Y2025, "VN", "Việt Nam", Level.NATION, None)
    by_province = completeness(nation, [_place("15", Level.PROVINCE)],
                               [Reports("15", 4, dt.date(2026, 1, 2), 4)], None, None)
    assert by_province.children[0].reported and by_province.share == 1.0


def test_exports_have_the_pages_numbers() -> None:
    table = children_table(ViewQuery("15"), _body())
    rows = list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã", "Tên", "km đường nông thôn làm mới, tu sửa, bê tông (km)"]
    assert rows[1] == ["04456", "Xã Mù Cang Chải", "7.7", "3", "0"]
    assert rows[3][2:] == ["150", "0", "2400000000"]
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[1] == ("04456", "Xã Mù Cang Chải", 7.7, 3, 0)
    assert values[3][4] == 2400000000


def test_a_whole_page_model_from_an_answer() -> None:
    gazetteer = load_gazetteer()
    province = gazetteer.get(Y2025, "15")
    assert province is not None
    built = page(ViewQuery("15"), gazetteer, province, _body(), {202508: 3}, None,
                 coordinates(Y2025))
    assert [c.name for c in built.breadcrumb] == ["Việt Nam", province.name]
    assert built.level == "Tỉnh, thành phố" and built.position == 7
    assert built.legacy_note and "bản đồ hành chính cũ" in built.legacy_note
    assert built.completeness is None and built.map is not None
    assert built.exports["children"] == [("CSV", "/ui/15/children.csv?map=2025"),
                                         ("XLSX", "/ui/15/children.xlsx?map=2025")]


def test_table_rows_escape_names_and_keep_exact_values() -> None:
    body = _body()
    body["children"][0]["name"] = "Xã <b>A</b> & B"
    html = str(body_rows(children_table(ViewQuery("15"), body)))
    assert "Xã &lt;b&gt;A&lt;/b&gt; &amp; B" in html and "<b>" not in html
    assert '<td class="num" data-v="7.7">7,7</td>' in html
    assert '<tr class="note">' in html  # the unattributed row, without a link
