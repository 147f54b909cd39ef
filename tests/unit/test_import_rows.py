"""Spreadsheet rows -> reports, pure: headers by code or label, exact numbers and dates, the
deterministic ids, the summary."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from openpyxl import Workbook

from cungdan_contracts import INDICATORS
from cungdan_ingest.import_summary import Tally
from cungdan_ingest.imports import (
    HEADER_NAMES,
    IMPORT_NAMESPACE,
    Columns,
    Converted,
    HeaderError,
    Refused,
    column_letter,
    folded,
    read_date,
    read_number,
)
from cungdan_ingest.sheets import Formula, Row, SheetError, rows


def columns(*headers: str) -> Columns:
    return Columns.read(Row(1, headers))


HEADER = ("campaign", "locality", "date", "unit", "road_km", "workdays")
ROW = ("ngay-cuoi-tuan-cung-dan", "04495", "2023-06-30", "Ban CHQS huyện", "6", "500")


@pytest.mark.parametrize(("text", "expected"), [
    ("1500", Decimal(1500)), ("1.500,5", Decimal("1500.5")), ("1,500.5", Decimal("1500.5")),
    ("1,5", Decimal("1.5")), ("1.5", Decimal("1.5")), ("0,500", Decimal("0.5")),
    ("1.500.000", Decimal(1500000)), ("2.400.000.000", Decimal(2400000000)),
    ("1500,500", Decimal("1500.5")), (" 7 ", Decimal(7)), ("0.1", Decimal("0.1")),
])
def test_text_numbers_are_read_where_they_read_one_way(text: str, expected: Decimal) -> None:
    assert read_number(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("1.500", "'1.500' is ambiguous: 1500 or 1.500? write 1500, or 1.5 for the decimal "
              "(or use a number cell)"),
    ("1,500", "'1,500' is ambiguous: 1500 or 1.500? write 1500, or 1,5 for the decimal "
              "(or use a number cell)"),
    ("1.2.3", "'1.2.3' is not a number"), ("12 km", "'12 km' is not a number"),
    ("1,50.5", "'1,50.5' is not a number"),
])
def test_ambiguous_or_odd_text_numbers_are_refused_never_guessed(text: str,
                                                                  reason: str) -> None:
    assert read_number(text) == reason


def test_number_cells_are_exact() -> None:
    assert read_number(Decimal("0.1")) == Decimal("0.1")
    assert read_number(1500) == Decimal(1500)
    assert read_number(True) == "True is not a number"


@pytest.mark.parametrize(("cell", "expected"), [
    ("2024-05-06", dt.date(2024, 5, 6)), ("06/05/2024", dt.date(2024, 5, 6)),
    ("6/5/2024", dt.date(2024, 5, 6)), ("06-05-2024", dt.date(2024, 5, 6)),
    (dt.datetime(2024, 5, 6), dt.date(2024, 5, 6)), (dt.date(2024, 5, 6), dt.date(2024, 5, 6)),
])
def test_dates_are_read_exactly_day_month_year(cell: object, expected: dt.date) -> None:
    assert read_date(cell) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("cell", "reason"), [
    ("31/02/2024", "'31/02/2024' is not a date: day is out of range for month"),
    ("May 6", "'May 6' is not a date: write 2024-05-06, or 06/05/2024 (day/month/year)"),
    (45418, "45418 is a number, not a date: format the cell as a date"),
    (dt.datetime(2024, 5, 6, 8, 30), "2024-05-06 08:30:00 has a time of day: give the date "
                                     "only"),
])
def test_other_dates_are_refused_with_the_reason(cell: object, reason: str) -> None:
    assert read_date(cell) == reason  # type: ignore[arg-type]


def test_headers_are_codes_or_labels_as_users_type_them() -> None:
    read = columns("Phong trào", "ĐỊA BÀN", "ngay", "Đơn vị", "NGÀY CÔNG", "km đường hoa",
                   "houses_repaired", "lượt cá nhân đăng ký làm theo bác")
    assert read.present == ["campaign", "locality", "date", "unit", "workdays",
                            "flower_road_km", "houses_repaired", "commitments_registered"]
    assert folded("Ngày công") == folded("ngay cong") == folded("NGÀY  CÔNG ")
    assert {HEADER_NAMES[folded(i.label_vi)] for i in INDICATORS.values()} == set(INDICATORS)


def test_unknown_repeated_and_missing_columns_are_named() -> None:
    with pytest.raises(HeaderError) as info:
        columns("campaign", "locality", "date", "road_km", "Road_KM", "số hộ")
    assert [(p.field, p.reason) for p in info.value.problems] == [
        ("Road_KM", "column E 'Road_KM' repeats column 'road_km' (road_km)"),
        ("số hộ", "unknown column 'số hộ' (column F): not a column code nor a catalog label "
                  "(see GET /v1/imports/template.csv)"),
        ("unit", "the required column 'unit' (đơn vị) is missing")]


def test_a_row_becomes_a_version_2_report_with_a_deterministic_id() -> None:
    read = columns(*HEADER, "village", "note")
    first = read.convert(Row(2, (*ROW, "Nậm Khắt", None)))
    again = read.convert(Row(900, (" ngày cuối tuần cùng dân ", 4495, dt.datetime(2023, 6, 30),
                                   "Ban CHQS huyện", Decimal("6.000"), 500, "Nậm Khắt")))
    assert isinstance(first, Converted) and isinstance(again, Converted)
    assert first.raw == {
        "version": 2, "id": first.id, "campaign": "ngay-cuoi-tuan-cung-dan",
        "locality": "04495", "date": "2023-06-30", "village": "Nậm Khắt",
        "unit": {"name": "Ban CHQS huyện", "kind": "military"},
        "measures": {"road_km": Decimal(6), "workdays": Decimal(500)}}
    assert (again.id, again.content) == (first.id, first.content)  # same content, same id
    assert uuid.UUID(first.id).version == 5
    assert first.id == str(uuid.uuid5(IMPORT_NAMESPACE, (
        '{"campaign":"ngay-cuoi-tuan-cung-dan","date":"2023-06-30","locality":"04495",'
        '"measures":{"road_km":"6","workdays":"500"},"unit":{"kind":"military","name":'
        '"Ban CHQS huyện"},"version":2,"village":"Nậm Khắt"}')))
    other = read.convert(Row(3, (*ROW[:4], "6", "501")))
    assert isinstance(other, Converted) and other.id != first.id
    given = columns("id", *HEADER).convert(Row(4, ("0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01",
                                                   *ROW)))
    assert isinstance(given, Converted) and given.id == "0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01"


def test_cell_problems_name_the_column_as_written() -> None:
    read = columns("Phong trào", "locality", "Ngày", "unit", "Km đường nông thôn làm mới, "
                   "tu sửa, bê tông", "workdays")
    refused = read.convert(Row(7, ("dan-van-kheo", "01894", "2023-13-01", "Chi bộ", "1.500",
                                   Formula("=SUM(A1:A3)"), "extra")))
    assert isinstance(refused, Refused) and refused.row == 7
    assert [(p.field, p.kind) for p in refused.problems] == [
        ("workdays", "formula"), ("(G)", "no_header"),
        ("Km đường nông thôn làm mới, tu sửa, bê tông", "bad_number"), ("Ngày", "bad_date")]


def test_contract_problems_are_mapped_to_columns() -> None:
    from cungdan_ingest.validation import FieldProblem
    read = columns("unit_kind", *HEADER)
    assert read.column_of(FieldProblem("measures.road_km", "x")) == "road_km"
    assert read.column_of(FieldProblem("unit.kind", "x")) == "unit_kind"
    assert read.column_of(FieldProblem("unit.name", "x")) == "unit"
    assert read.column_of(FieldProblem("measures", "x")) == "(indicators)"
    assert read.column_of(FieldProblem("(body)", "x")) is None  # the row as a whole


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A", "Z", "AA", "AB", "ZZ", "AAA"]


def test_the_summary_lists_rows_up_to_its_limit_and_counts_all() -> None:
    tally = Tally(most_listed=2)
    tally.add(2, "accepted", id="a")
    for row in (3, 4, 5):
        tally.add(row, "rejected", problems=[("date", "bad", "bad_date")])
    tally.add(6, "out_of_scope", id="b", problems=[("locality", "not yours", "out-of-scope")])
    summary = tally.summary(dry_run=False, kind="csv", columns=["campaign"])
    assert summary.counts.model_dump() == {"rows": 5, "accepted": 1, "duplicate": 0,
                                           "conflict": 0, "rejected": 4, "out_of_scope": 1}
    assert [r.row for r in summary.rows] == [3, 4] and summary.rows_not_listed == 2


def _xlsx(*table: tuple[object, ...]) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in table:
        sheet.append(list(line))
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def test_xlsx_cells_are_read_exactly() -> None:
    file = _xlsx(HEADER, ("dan-van-kheo", "01894", dt.date(2023, 3, 4), "Chi bộ", 0.1, 3),
                 (), ("dan-van-kheo", "01894", "04/03/2023", "Chi bộ", 1e-7, "=B2*2"))
    read = list(rows(file, "xlsx"))
    assert [r.number for r in read] == [1, 2, 4]
    assert read[1].cells == ("dan-van-kheo", "01894", dt.datetime(2023, 3, 4), "Chi bộ",
                             Decimal("0.1"), 3)
    assert read[2].cells[4:] == (Decimal("1E-7"), Formula("=B2*2"))


def test_csv_of_libreoffice_semicolons_bom_crlf() -> None:
    text = "\ufeffcampaign;locality;date;unit;road_km\r\ndan-van-kheo;01894;04/03/2023;" \
           "\"Chi bộ; thôn\";1,5\r\n\r\n"
    read = list(rows(io.BytesIO(text.encode()), "csv"))
    assert [(r.number, r.cells) for r in read] == [
        (1, ("campaign", "locality", "date", "unit", "road_km")),
        (2, ("dan-van-kheo", "01894", "04/03/2023", "Chi bộ; thôn", "1,5"))]


@pytest.mark.parametrize(("body", "kind", "expected"), [
    (b"", "csv", "empty-file"), (b"\x89PNG\r\n\x1a\n\x00\x00", "csv", "not-text"),
    (b"PK\x03\x04junk", "csv", "not-csv"), (b"%PDF-1.4 junk", "xlsx", "not-xlsx"),
    (b"PK\x03\x04junk", "xlsx", "not-xlsx"), (b"a,b\n\xff\xfe\xfa", "csv", "not-text"),
])
def test_files_that_are_no_spreadsheet_are_refused(body: bytes, kind: str,
                                                   expected: str) -> None:
    with pytest.raises(SheetError) as info:
        list(rows(io.BytesIO(body), kind))  # type: ignore[arg-type]
    assert info.value.kind == expected


def test_merged_cells_are_refused_naming_them() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(HEADER))
    sheet.append(list(ROW))
    sheet.merge_cells("A2:A3")
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(SheetError) as info:
        list(rows(out, "xlsx"))
    assert (info.value.kind, info.value.detail) == (
        "merged-cells", "sheet 'Sheet' has merged cells (A2:A3): unmerge them and give each "
                        "row its own values")


def test_csv_in_utf16_from_excel_unicode_text() -> None:
    text = ("campaign\tlocality\tdate\tunit\troad_km\r\n"
            "dan-van-kheo\t01894\t2023-03-04\tChi bộ\t2\r\n")
    found = rows(io.BytesIO(text.encode("utf-16")), "csv")
    read = list(found)
    assert read[1].cells == ("dan-van-kheo", "01894", "2023-03-04", "Chi bộ", "2")
    assert (found.separator, found.encoding) == ("\t", "utf-16")  # told in the summary


def test_a_label_with_commas_does_not_fool_the_separator() -> None:
    label = INDICATORS["road_km"].label_vi  # "km đường nông thôn làm mới, tu sửa, bê tông"
    text = f"campaign;locality;date;unit;{label}\r\ndan-van-kheo;01894;2023-03-04;Chi bộ;2\r\n"
    known = {"campaign", "locality", "date", "unit", label}
    read = list(rows(io.BytesIO(text.encode()), "csv", known.__contains__))
    assert read[0].cells[-1] == label and len(read[1].cells) == 5
