"""Spreadsheet rows, read exactly and one at a time: CSV (stdlib ``csv``, separator sniffed)
and XLSX (openpyxl in read-only mode, the first sheet).

Cells come out as the file holds them: text as ``str``, whole numbers as ``int``, other
numbers as ``Decimal`` of the shortest text that reads back as the same double (so a cell
showing 0.1 is ``Decimal('0.1')``, never 0.1000000000000000055...), date cells as
``datetime``, a formula as :class:`Formula`. Nothing here knows about reports.

A whole-file problem (not a spreadsheet, not UTF-8, merged cells...) raises
:class:`SheetError`; it is found before the first row is handed out whenever the file's
structure allows (CSV is checked through once; an XLSX archive is opened and its first
sheet looked over for merged cells).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Literal

from openpyxl import load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

Kind = Literal["csv", "xlsx"]
ZIP_MAGIC = b"PK\x03\x04"
_CHECK_CHUNK = 1 << 20
_SEPARATORS = ",;\t"


@dataclass(frozen=True, slots=True)
class Formula:
    """A formula cell: the import reads values only."""

    text: str


Cell = str | int | Decimal | dt.datetime | dt.date | dt.time | bool | Formula | None


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    """The row's number in the file, the header being row 1 (a CSV record spanning lines
    counts once, as a spreadsheet shows it)."""
    cells: tuple[Cell, ...]


class SheetError(Exception):
    """The file as a whole cannot be read as a spreadsheet."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class Rows:
    """The rows of a file (an iterator) and, for a CSV, the separator and encoding it is read
    with (told in the import summary, so that a client reads the file as the ingest did)."""

    def __init__(self, rows: Iterator[Row], separator: str | None = None,
                 encoding: Literal["utf-8", "utf-16"] | None = None) -> None:
        self._rows = rows
        self.separator = separator
        self.encoding = encoding

    def __iter__(self) -> Rows:
        return self

    def __next__(self) -> Row:
        return next(self._rows)


def rows(file: IO[bytes], kind: Kind,
         known: Callable[[str], bool] = lambda _: False) -> Rows:
    """The rows of ``file`` (seekable, at any position), blank rows left out. ``known``:
    whether a text is a known header (it helps find a CSV's separator)."""
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    if not head:
        raise SheetError("empty-file", "the file is empty")
    if kind == "csv":
        if head.startswith(ZIP_MAGIC):
            raise SheetError("not-csv", "the file is a zip archive (an XLSX workbook?), sent "
                                        "as text/csv: send it as an XLSX file")
        return _csv_rows(file, known)
    if not head.startswith(ZIP_MAGIC):
        raise SheetError("not-xlsx", "the file is not an XLSX workbook (not a zip archive); "
                                     "a legacy .xls or a CSV must be saved as .xlsx or sent "
                                     "as text/csv")
    return Rows(_xlsx_rows(file))


# --- CSV --------------------------------------------------------------------------------------


def _csv_encoding(file: IO[bytes]) -> str:
    """The encoding of the whole file, checked through: UTF-8 (with or without a BOM) or
    UTF-16 with a BOM; no NUL characters."""
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    while chunk := file.read(_CHECK_CHUNK):
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise SheetError("not-text", f"the file is not UTF-8 text: undecodable byte at "
                                         f"offset {offset + exc.start} (from Excel, save as "
                                         f"'CSV UTF-8')") from None
        if "\x00" in text:
            raise SheetError("not-text", "the file holds NUL characters: not a CSV text file")
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise SheetError("not-text", "the file ends in the middle of a UTF-8 character") \
            from None
    file.seek(0)
    return encoding


def _separator(first_line: str, known: Callable[[str], bool]) -> str:
    """The separator of the header line (LibreOffice and Excel in Vietnamese write ``;``):
    of ``,`` ``;`` and tab, the one that splits it into the most ``known`` headers (labels
    may hold commas); on a tie, the one csv's sniffer finds, else the most frequent."""
    def score(separator: str) -> int:
        cells = next(csv.reader([first_line], delimiter=separator), [])
        return sum(1 for cell in cells if known(cell))

    scores = {s: score(s) for s in _SEPARATORS}
    best = max(scores.values())
    candidates = [s for s in _SEPARATORS if scores[s] == best]
    if len(candidates) == 1:
        return candidates[0]
    try:
        found = csv.Sniffer().sniff(first_line, delimiters="".join(candidates)).delimiter
    except csv.Error:
        found = max(candidates, key=first_line.count)
    return found


def _csv_rows(file: IO[bytes], known: Callable[[str], bool]) -> Rows:
    encoding = _csv_encoding(file)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    first = text.readline()
    if not first.strip():
        raise SheetError("no-header", "the first line (the header) is empty")
    text.seek(0)
    separator = _separator(first.rstrip("\r\n"), known)
    return Rows(_csv_records(csv.reader(text, delimiter=separator)), separator,
                "utf-16" if encoding == "utf-16" else "utf-8")


def _csv_records(reader: Iterator[list[str]]) -> Iterator[Row]:
    number = 0
    try:
        for record in reader:
            number += 1
            if any(cell.strip() for cell in record):
                yield Row(number, tuple(record))
    except csv.Error as exc:
        raise SheetError("bad-csv", f"row {number + 1}: {exc}") from None


# --- XLSX -------------------------------------------------------------------------------------

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*ref="([A-Z0-9:]+)"')


def _merged_ranges(archive: zipfile.ZipFile, sheet_path: str, most: int = 5) -> list[str]:
    """The first ``most`` merged ranges of a sheet, read from its XML in one streamed pass
    (openpyxl's read-only mode does not read them)."""
    found: list[str] = []
    tail = b""
    with archive.open(sheet_path.lstrip("/")) as part:
        while chunk := part.read(_CHECK_CHUNK):
            window = tail + chunk
            if b"mergeCell" in window:
                found = [m.decode() for m in _MERGE.findall(window)][:most]
                if found:
                    return found
            tail = window[-200:]
    return found


def _xlsx_rows(file: IO[bytes]) -> Iterator[Row]:
    try:
        book = load_workbook(file, read_only=True, data_only=False, keep_links=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise SheetError("not-xlsx", f"the file is not a readable XLSX workbook: {exc}") \
            from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken file
        raise SheetError("not-xlsx", f"the file is not a readable XLSX workbook: "
                                     f"{type(exc).__name__}: {exc}") from None
    if not book.worksheets:
        raise SheetError("no-sheet", "the workbook has no worksheet")
    sheet = book.worksheets[0]
    if not isinstance(sheet, ReadOnlyWorksheet):
        raise SheetError("no-sheet", f"the first sheet '{sheet.title}' is not a worksheet")
    # openpyxl's own archive of the file and the sheet's part in it (not in its stubs)
    merged = _merged_ranges(vars(book)["_archive"], vars(sheet)["_worksheet_path"])
    if merged:
        book.close()
        raise SheetError("merged-cells", f"sheet '{sheet.title}' has merged cells "
                                         f"({', '.join(merged)}): unmerge them and give each "
                                         f"row its own values")
    return _xlsx_records(book, sheet)


def _xlsx_records(book: Any, sheet: Any) -> Iterator[Row]:
    """Rows numbered as the sheet numbers them: read-only openpyxl yields every row from the
    first, missing ones as empty."""
    sheet.reset_dimensions()  # a stale or huge <dimension> must not pad or prolong the rows
    try:
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            values = tuple(_xlsx_value(c) for c in cells)
            if any(not blank(v) for v in values):
                yield Row(number, values)
    except Exception as exc:  # noqa: BLE001 - a broken sheet part
        raise SheetError("not-xlsx", f"the sheet could not be read: "
                                     f"{type(exc).__name__}: {exc}") from None
    finally:
        book.close()


def _xlsx_value(cell: Any) -> Cell:
    value = cell.value
    if cell.data_type == "f":
        return Formula(str(value))
    if isinstance(value, float):
        return Decimal(repr(value))
    if value is None or isinstance(value, bool | int | str | Decimal | dt.datetime | dt.date
                                   | dt.time):
        return value
    return str(value)


def normalized(text: str) -> str:
    """Text as users type it, folded: NFC, case, surrounding and repeated spaces."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())
