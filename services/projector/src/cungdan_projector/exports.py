"""A page's table as CSV or XLSX, with the numbers the page shows (exact, unformatted).

CSV: UTF-8 with a byte order mark (so spreadsheet programs read the Vietnamese names),
numbers with a ``.`` before the fraction. XLSX (openpyxl): numbers as numbers, dates as
dates, the headings bold.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from .ui_tables import Cell, Table, cell_value

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in table.columns])
    writer.writerows([cell_value(cell) for cell in row] for row in table.records())
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_value(cell: Cell) -> object:
    if isinstance(cell, bool):
        return "có" if cell else "chưa"
    if isinstance(cell, Decimal):
        return int(cell) if cell == cell.to_integral_value() else float(cell)
    return cell


def to_xlsx(table: Table) -> bytes:
    # imported here: openpyxl brings numpy (~22 MiB together), which only a download needs
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.name
    sheet.append([c.heading for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.records():
        sheet.append([_sheet_value(cell) for cell in row])
    for index, spec in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(10, min(40, len(spec.heading) + 2))
        if spec.key == "last_report":
            for cell in sheet[letter][1:]:
                cell.number_format = "DD/MM/YYYY"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
