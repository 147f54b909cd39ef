"""The committee page's reporting periods, pure: the status of a period (closed,
reopened), the "as closed" links, the province's periods and the difference table (the
comparisons of ``GET /v1/periods/{province}/{period}``) with its exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from cungdan_contracts import INDICATORS, AdminMap, load_gazetteer
from cungdan_projector.closing_reads import ClosingRecord, ControlRecord, PeriodView
from cungdan_projector.exports import to_csv, to_xlsx
from cungdan_projector.periods_http import _compare
from cungdan_projector.places import coordinates
from cungdan_projector.ui_html import body_rows
from cungdan_projector.ui_model import page
from cungdan_projector.ui_periods import differences_table, period_status, periods_list, vn_time
from cungdan_projector.ui_tables import ViewQuery

Y2025 = AdminMap.Y2025
AT = dt.datetime(2026, 10, 1, 2, 30, tzinfo=dt.UTC)  # 09:30 in Vietnam
NCD = "ngay-cuoi-tuan-cung-dan"


def _closing(number: int, reopened: bool = False) -> ClosingRecord:
    if not reopened:
        return ClosingRecord("2026-Q3", number, 10 * number, AT, "tinh-15", "đủ báo cáo")
    return ClosingRecord("2026-Q3", number, 10 * number, AT, None, "đủ báo cáo",
                         10 * number + 1, AT + dt.timedelta(days=1), "admin", "sót một xã")


def test_a_moment_reads_in_vietnams_time() -> None:
    assert vn_time(AT) == "09:30 ngày 01/10/2026"


def test_a_period_is_closed_while_its_last_closing_is_not_reopened() -> None:
    assert (PeriodView().last, PeriodView().closed) == (None, False)
    again = PeriodView([_closing(1, reopened=True), _closing(2)])
    assert again.last == _closing(2) and again.closed
    reopened = PeriodView([_closing(1), _closing(2, reopened=True)])
    assert reopened.last == _closing(2, reopened=True) and not reopened.closed


def test_a_period_never_closed_is_open_without_an_as_closed_link() -> None:
    status = period_status(ViewQuery("15", period="2026-Q3"), "Lào Cai", PeriodView())
    assert status is not None and not status.closed
    assert status.status == "Đang mở (chưa khóa lần nào)"
    assert status.as_closed_link is None and status.history == ()
    assert period_status(ViewQuery("15"), "Lào Cai", PeriodView()) is None  # no period


def test_a_closed_period_says_by_whom_when_why_and_links_to_as_closed() -> None:
    view = PeriodView([_closing(1, reopened=True), _closing(2)], late_amendments=3)
    query = ViewQuery("04456", period="2026-Q3", indicator="road_km")
    status = period_status(query, "Lào Cai", view)
    assert status is not None and status.closed and status.late_amendments == 3
    assert status.status == "Đã khóa (lần 2) lúc 09:30 ngày 01/10/2026, tinh-15"
    assert status.history == (
        "Khóa lần 1: 09:30 ngày 01/10/2026, không ghi tên người thực hiện; lý do: đủ báo cáo",
        "Mở lại sau lần khóa 1: 09:30 ngày 02/10/2026, admin; lý do: sót một xã",
        "Khóa lần 2: 09:30 ngày 01/10/2026, tinh-15; lý do: đủ báo cáo")
    assert status.as_closed_link == \
        "/ui/04456?map=2025&indicator=road_km&period=2026-Q3&as_closed=true"
    assert status.live_link is None and status.shown is None


def test_the_as_closed_view_names_its_closing_and_links_back_to_the_live_one() -> None:
    view = PeriodView([_closing(1, reopened=True), _closing(2)])
    query = ViewQuery("15", period="2026-Q3", as_closed=True, closing=1)
    assert query.url() == "/ui/15?map=2025&period=2026-Q3&as_closed=true&closing=1"
    status = period_status(query, "Lào Cai", view, view.closings[0])
    assert status is not None and status.as_closed_link is None
    assert status.live_link == "/ui/15?map=2025&period=2026-Q3"
    assert status.shown == ("Số liệu khi khóa lần 1 (09:30 ngày 01/10/2026, "
                            "không ghi tên người thực hiện)")


def test_a_reopened_period_is_open_again() -> None:
    status = period_status(ViewQuery("15", period="2026-Q3"), "Lào Cai",
                           PeriodView([_closing(1, reopened=True)]))
    assert status is not None and not status.closed
    assert status.status.startswith("Đang mở lại (từ 09:30 ngày 02/10/2026, admin")


def test_the_provinces_periods_newest_first_each_a_link() -> None:
    found = {"2026-Q2": PeriodView([_closing(1)]), "2026-Q3": PeriodView(
        [_closing(1, reopened=True)]), "2026-Q1": PeriodView(late_amendments=2)}
    entries = periods_list(ViewQuery("15", date_from=dt.date(2026, 1, 1), as_closed=True,
                                     period="2026", closing=2), found)
    assert [(e.period, e.link) for e in entries] == [
        ("2026-Q3", "/ui/15?map=2025&period=2026-Q3"),
        ("2026-Q2", "/ui/15?map=2025&period=2026-Q2")]
    assert entries[0].status.startswith("Đang mở lại") and entries[1].status.startswith("Đã")


COMPARISONS: list[dict[str, Any]] = [{"campaign": NCD, "closing": 2, "indicators": [
    {"indicator": "road_km", "unit": "km", "projected": "1.75", "province": "12",
     "difference": "10.25"},
    {"indicator": "citizen_turns", "unit": "person_turns", "projected": "1200",
     "province": "1000", "difference": "-200"}]}]


def _amounts(**units: int) -> list[int]:
    return [units.get(code, 0) for code in INDICATORS]


def test_a_comparison_formats_each_side_and_the_difference_in_the_indicators_scale() -> None:
    """Scale 3 and 4 (fractions, a negative one), scale 0, a side at zero; an indicator
    neither side has is left out."""
    projected = _amounts(road_km=1750, citizen_turns=1200, terraced_field_ha=5)
    control = ControlRecord(NCD, 2, 30, AT, "tinh-15", _amounts(
        road_km=12000, citizen_turns=1000, workdays=7))
    assert _compare(projected, control) == [
        {"indicator": "citizen_turns", "unit": "person-turns", "projected": "1200",
         "province": "1000", "difference": "-200"},
        {"indicator": "workdays", "unit": "person-days", "projected": "0", "province": "7",
         "difference": "7"},
        {"indicator": "road_km", "unit": "km", "projected": "1.75", "province": "12",
         "difference": "10.25"},
        {"indicator": "terraced_field_ha", "unit": "ha", "projected": "0.0005",
         "province": "0", "difference": "-0.0005"}]
    assert _compare(None, control)[0] == {
        "indicator": "citizen_turns", "unit": "person-turns", "projected": "0",
        "province": "1000", "difference": "1000"}
    assert _compare(_amounts(road_km=-250), None) == [
        {"indicator": "road_km", "unit": "km", "projected": "-0.25", "province": None,
         "difference": None}]


def test_the_difference_table_holds_the_apis_numbers_and_exports_them() -> None:
    table = differences_table(COMPARISONS)
    assert table is not None and table.name == "differences"
    assert [r.cells[3:] for r in table.rows] == [
        (Decimal("1.75"), Decimal(12), Decimal("10.25")),
        (Decimal(1200), Decimal(1000), Decimal(-200))]
    html = str(body_rows(table))
    assert '<td class="num" data-v="10.25">10,25</td>' in html
    assert '<td class="num" data-v="1200">1.200</td>' in html
    rows = list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))
    assert [r[3:] for r in rows[1:]] == [["1.75", "12", "10.25"], ["1200", "1000", "-200"]]
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet is not None
    assert [r[3:] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        (1.75, 12, 10.25), (1200, 1000, -200)]


def test_no_difference_table_without_control_totals() -> None:
    assert differences_table([]) is None
    assert differences_table([{"campaign": None, "closing": 1, "indicators": [
        {"indicator": "road_km", "unit": "km", "projected": "3", "province": None,
         "difference": None}]}]) is None


def test_the_page_carries_the_period_and_exports_the_differences() -> None:
    gazetteer = load_gazetteer()
    province = gazetteer.get(Y2025, "15")
    assert province is not None
    query = ViewQuery("15", period="2026-Q3", as_closed=True)
    view = PeriodView([_closing(1)])
    body = {"totals": {"road_km": "1.75"}, "children": [], "position": 4}
    built = page(query, gazetteer, province, body, {}, None, coordinates(Y2025),
                 period_status(query, "Lào Cai", view, view.closings[0]),
                 differences_table(COMPARISONS), periods_list(query, {"2026-Q3": view}))
    assert built.period is not None and built.period.closed
    assert built.totals.caption.endswith("(khi khóa kỳ)")
    assert built.exports["differences"][0] == (
        "CSV", "/ui/15/differences.csv?map=2025&period=2026-Q3&as_closed=true")
    assert [p.period for p in built.periods] == ["2026-Q3"]
