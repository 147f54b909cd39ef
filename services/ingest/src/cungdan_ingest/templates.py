"""The import templates: the header row (column codes), the Vietnamese labels and units
beside them (as ``#`` comment rows, which the import skips), and, in the XLSX, a list of
campaigns and unit kinds to pick from and a sheet of the localities the token may report
for. A filled template imports as it is."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from cungdan_contracts import CAMPAIGNS, INDICATORS, NATION, AdminMap, Gazetteer, Locality
from cungdan_service.auth import Principal

from .imports import FIXED_LABELS, TEMPLATE_COLUMNS, UNIT_KINDS

DATA_SHEET = "Báo cáo"
LOCALITY_SHEET = "Địa bàn"
CATALOG_SHEET = "Danh mục"
_ROWS_VALIDATED = 100_000
_FIXED_UNITS = {"id": "UUID (để trống: tự sinh)", "campaign": "mã phong trào",
                "locality": "mã địa bàn (GSO)", "date": "2024-05-06 hoặc 06/05/2024",
                "unit": "tên đơn vị", "unit_kind": ", ".join(UNIT_KINDS), "note": "",
                "village": "tên thôn, bản, tổ dân phố"}


def label_rows() -> tuple[list[str], list[str]]:
    """The labels row and the units row, each starting with ``#``."""
    labels = [FIXED_LABELS[c] if c in FIXED_LABELS else INDICATORS[c].label_vi
              for c in TEMPLATE_COLUMNS]
    units = [_FIXED_UNITS[c] if c in _FIXED_UNITS else _unit(c) for c in TEMPLATE_COLUMNS]
    return ["# " + labels[0], *labels[1:]], ["# " + units[0], *units[1:]]


def _unit(code: str) -> str:
    indicator = INDICATORS[code]
    places = f", {indicator.scale} chữ số thập phân" if indicator.scale else ""
    return f"{indicator.unit}{places}"


def csv_text() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerows(label_rows())
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class ListedLocality:
    map: AdminMap
    code: str
    name: str
    level: str
    province: str


def localities(gazetteer: Gazetteer, caller: Principal | None) -> Iterator[ListedLocality]:
    """The localities of the caller's provinces (all without a token), in both maps: the
    2025 map for reports from 2025-07-01, the legacy one for earlier reports."""
    for admin_map in (AdminMap.Y2025, AdminMap.LEGACY):
        for province in gazetteer.children(admin_map, NATION):
            if caller is not None and not caller.covers(admin_map, province.code):
                continue
            yield from _below(gazetteer, admin_map, province, province.code)


def _below(gazetteer: Gazetteer, admin_map: AdminMap, unit: Locality,
           province: str) -> Iterator[ListedLocality]:
    yield ListedLocality(admin_map, unit.code, unit.name, unit.level.value, province)
    for child in gazetteer.children(admin_map, unit.code):
        yield from _below(gazetteer, admin_map, child, province)


def xlsx(listed: Iterator[ListedLocality]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = DATA_SHEET
    bold = Font(bold=True)
    grey = Font(italic=True, color="666666")
    sheet.append(list(TEMPLATE_COLUMNS))
    labels, units = label_rows()
    sheet.append(labels)
    sheet.append(units)
    for index, code in enumerate(TEMPLATE_COLUMNS, start=1):
        header = sheet.cell(1, index)
        header.font = bold
        header.fill = PatternFill("solid", fgColor="DDEBF7")
        header.comment = Comment(f"{labels[index - 1].lstrip('# ')} ({units[index - 1]})",
                                 "cungdan")
        sheet.cell(2, index).font = grey
        sheet.cell(3, index).font = grey
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(code) + 2)
        if code in ("id", "campaign", "locality", "unit", "note", "village", "unit_kind"):
            sheet.column_dimensions[get_column_letter(index)].number_format = "@"
    sheet.freeze_panes = "A4"
    last = _ROWS_VALIDATED + 3
    for code, values in (("campaign", list(CAMPAIGNS)), ("unit_kind", list(UNIT_KINDS))):
        letter = get_column_letter(TEMPLATE_COLUMNS.index(code) + 1)
        rule = DataValidation(type="list", formula1='"' + ",".join(values) + '"',
                              allow_blank=True, showErrorMessage=True,
                              errorTitle=FIXED_LABELS[code],
                              error=f"Chọn một giá trị trong danh sách ({code})")
        rule.add(f"{letter}4:{letter}{last}")
        sheet.add_data_validation(rule)
    date_letter = get_column_letter(TEMPLATE_COLUMNS.index("date") + 1)
    for row in range(4, 204):
        sheet[f"{date_letter}{row}"].number_format = "yyyy-mm-dd"

    places = book.create_sheet(LOCALITY_SHEET)
    places.append(["map", "code", "name", "level", "province"])
    for cell in places[1]:
        cell.font = bold
    for loc in listed:
        places.append([loc.map.value, loc.code, loc.name, loc.level, loc.province])
    for letter, width in zip("ABCDE", (8, 8, 40, 10, 9), strict=True):
        places.column_dimensions[letter].width = width

    catalog = book.create_sheet(CATALOG_SHEET)
    catalog.append(["code", "nhãn", "label", "unit", "scale"])
    for cell in catalog[1]:
        cell.font = bold
    for indicator in INDICATORS.values():
        catalog.append([indicator.code, indicator.label_vi, indicator.label_en,
                        indicator.unit, indicator.scale])
    catalog.append([])
    catalog.append(["campaign", "tên phong trào", "name"])
    for campaign in CAMPAIGNS.values():
        catalog.append([campaign.code, campaign.name_vi, campaign.name_en])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
