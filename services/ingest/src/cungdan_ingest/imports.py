"""Spreadsheet rows -> reports (the summary of an import: :mod:`.import_summary`). Pure: no I/O.

The file format is in docs/imports.md. In short: a header row naming the columns by code
or by the catalog's Vietnamese label (as users type them: any case, with or without
diacritics); one row per report; rows whose first cell starts with ``#`` are comments.

A row without an ``id`` gets a deterministic one: a UUID 5 of the row's content as
read (campaign, locality, date, unit and its kind, village, note, measures; the row's
number is not part of it), so importing a file again, or with rows added, stores nothing
twice. Two identical rows without ids are one report: the second is a ``duplicate`` of the
first. Two activities that look alike need distinct ids in the file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cungdan_contracts import CAMPAIGNS, INDICATORS, UnitKind, format_decimal
from cungdan_contracts.upcasting import infer_unit_kind

from .sheets import Cell, Formula, Row, blank, normalized
from .validation import FieldProblem

IMPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cungdan:import:v1")
"""The namespace of the ids of rows without one (never change it: re-imports rely on it)."""

FIXED_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("mã báo cáo",),
    "campaign": ("phong trào", "mã phong trào"),
    "locality": ("địa bàn", "mã địa bàn"),
    "date": ("ngày", "ngày thực hiện"),
    "unit": ("đơn vị", "đơn vị tổ chức"),
    "unit_kind": ("loại đơn vị",),
    "note": ("ghi chú",),
    "village": ("thôn", "thôn, bản, tổ dân phố"),
    "reason": ("lý do",),
}
"""The columns other than the indicators: code -> Vietnamese labels. ``reason`` is the
reason a previous import gave for a row (``cungdan import`` writes the rejected rows with
it, to be fixed and imported again): known, and not read."""
FIXED_LABELS = {code: labels[0] for code, labels in FIXED_COLUMNS.items()}
REQUIRED_COLUMNS = ("campaign", "locality", "date", "unit")
TEMPLATE_COLUMNS = ("id", "campaign", "locality", "date", "unit", "unit_kind", "note",
                    "village", *INDICATORS)


def folded(text: str) -> str:
    """The key a header or a campaign name is looked up by: :func:`normalized`, without
    diacritics (so "Ngày công", "ngày công" and "ngay cong" are one header)."""
    decomposed = unicodedata.normalize("NFD", normalized(text).replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    spelled = [(code, (code, *labels)) for code, labels in FIXED_COLUMNS.items()]
    spelled += [(code, (code, i.label_vi)) for code, i in INDICATORS.items()]
    for code, spellings in spelled:
        for spelling in spellings:
            key = folded(spelling)
            assert names.setdefault(key, code) == code, f"header {spelling!r} is ambiguous"
    return names


HEADER_NAMES = _names()
CAMPAIGN_NAMES = {**{folded(c.name_vi): c.code for c in CAMPAIGNS.values()},
                  **{folded(code): code for code in CAMPAIGNS}}


def is_header(text: str) -> bool:
    """Whether ``text`` names a column (by code or label)."""
    return folded(text) in HEADER_NAMES


class HeaderError(ValueError):
    """The header row cannot be read; ``problems`` name each column and why."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = problems


def column_letter(index: int) -> str:
    """``0`` -> ``A``, ``26`` -> ``AA``: the column as a spreadsheet names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def is_comment(row: Row) -> bool:
    first = row.cells[0] if row.cells else None
    return isinstance(first, str) and first.lstrip().startswith("#")


# --- cells --------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DMY_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+$")
_GROUPED = re.compile(r"^\d{1,3}(?:X\d{3})+$")


def read_date(cell: Cell) -> dt.date | str:
    """A date cell, or a text date (``2024-05-06``, or ``06/05/2024`` read day/month/year),
    or why not."""
    if isinstance(cell, dt.datetime):
        if cell.time() != dt.time(0):
            return f"{cell.isoformat(sep=' ')} has a time of day: give the date only"
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, str):
        text = cell.strip()
        try:
            if m := _ISO_DATE.match(text):
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            if m := _DMY_DATE.match(text):
                return dt.date(int(m[4]), int(m[3]), int(m[1]))
        except ValueError as exc:
            return f"'{text}' is not a date: {exc}"
        return (f"'{text[:40]}' is not a date: write 2024-05-06, or 06/05/2024 "
                f"(day/month/year)")
    if isinstance(cell, int | Decimal) and not isinstance(cell, bool):
        return f"{cell} is a number, not a date: format the cell as a date"
    return f"{cell!r} is not a date"


def read_number(cell: Cell) -> Decimal | str:
    """A number cell exactly, or a text number where it reads one way only, or why not.

    Text may group thousands with ``.`` (Vietnamese) or ``,`` and mark decimals with the
    other one: ``1.500,5`` and ``1,500.5`` are 1500.5; ``1,5`` and ``1.5`` are 1.5; but
    ``1.500`` and ``1,500`` could be 1500 or 1.5, and are refused."""
    if isinstance(cell, bool):
        return f"{cell} is not a number"
    if isinstance(cell, int | Decimal):
        return Decimal(cell)
    if not isinstance(cell, str):
        return f"{cell!r} is not a number"
    text = cell.strip().replace("\u00a0", "")
    sign = ""
    if text[:1] in "+-":
        sign, text = text[:1], text[1:]
    digits = _plain_digits(text)
    if isinstance(digits, Ambiguous):
        return digits.reason
    if digits is None:
        return f"'{cell.strip()[:40]}' is not a number"
    return Decimal(sign + digits)


@dataclass(frozen=True, slots=True)
class Ambiguous:
    reason: str


def _plain_digits(text: str) -> str | Ambiguous | None:
    """``text`` in plain notation (``1500.5``), or why it reads two ways, or ``None`` when
    it is no number at all."""
    if _PLAIN_NUMBER.match(text):
        return text
    dots, commas = text.count("."), text.count(",")
    if not dots and not commas:
        return None
    if dots and commas:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if decimal_mark == "," else ","
        whole, _, fraction = text.rpartition(decimal_mark)
        if not fraction.isdigit() or not _GROUPED.match(whole.replace(group, "X")):
            return None
        return whole.replace(group, "") + "." + fraction
    mark = "." if dots else ","
    parts = text.split(mark)
    if not all(p.isdigit() for p in parts):
        return None
    if len(parts) > 2:  # only thousands groups repeat
        return "".join(parts) if _GROUPED.match(text.replace(mark, "X")) else None
    whole, fraction = parts
    if len(whole) <= 3 and len(fraction) == 3 and whole[0] != "0":
        return Ambiguous(f"'{text}' is ambiguous: {whole}{fraction} or {whole}.{fraction}? "
                         f"write {whole}{fraction}, or {whole}{mark}{fraction.rstrip('0')}"
                         f" for the decimal (or use a number cell)")
    return whole + "." + fraction


def read_text(cell: Cell) -> str | None:
    """A text cell as typed (NFC, without surrounding spaces), a number as written."""
    if blank(cell):
        return None
    if isinstance(cell, str):
        return unicodedata.normalize("NFC", cell.strip())
    if isinstance(cell, Decimal):
        return format_decimal(cell)
    if isinstance(cell, dt.datetime | dt.date):
        return cell.isoformat()
    return str(cell)


def read_locality(cell: Cell) -> str | None:
    """A locality code. A number cell lost its leading zeros; 4 digits can only have been a
    commune's 5 (``1894`` -> ``01894``); other lengths are left for the contract to refuse."""
    text = read_text(cell)
    if text is not None and len(text) == 4 and text.isdigit():
        return "0" + text
    return text


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Converted:
    row: int
    raw: dict[str, Any]
    """The report as the JSON API takes it (version 2)."""
    id: str
    content: int
    """A digest of the content (not the id), to tell a repeated row from another report."""


@dataclass(frozen=True, slots=True)
class Refused:
    row: int
    problems: list[FieldProblem]
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Columns:
    """The header row, read: the column at each position (``None``: a blank header)."""

    codes: tuple[str | None, ...]
    headers: tuple[str, ...]
    """Each header as written in the file (for the answers)."""

    @classmethod
    def read(cls, header: Row) -> Columns:
        codes: list[str | None] = []
        headers: list[str] = []
        problems: list[FieldProblem] = []
        seen: dict[str, str] = {}
        for index, cell in enumerate(header.cells):
            letter = column_letter(index)
            text = read_text(cell) if not isinstance(cell, Formula) else cell.text
            headers.append(text or f"({letter})")
            if text is None:
                codes.append(None)
                continue
            code = HEADER_NAMES.get(folded(text))
            if code is None:
                problems.append(FieldProblem(
                    text, f"unknown column '{text}' (column {letter}): not a column code nor "
                          f"a catalog label (see GET /v1/imports/template.csv)",
                    "unknown_column"))
            elif code in seen:
                problems.append(FieldProblem(
                    text, f"column {letter} '{text}' repeats column '{seen[code]}' ({code})",
                    "repeated_column"))
            else:
                seen[code] = text
            codes.append(code)
        missing = [c for c in REQUIRED_COLUMNS if c not in seen]
        problems += [FieldProblem(c, f"the required column '{c}' ({FIXED_LABELS[c]}) is "
                                     f"missing", "missing_column") for c in missing]
        if not seen.keys() & set(INDICATORS) and not problems:
            problems.append(FieldProblem("(header)", "no indicator column: name at least one "
                                                     "indicator", "missing_column"))
        if problems:
            raise HeaderError(problems)
        return cls(tuple(codes), tuple(headers))

    @property
    def present(self) -> list[str]:
        return [c for c in self.codes if c is not None]

    def header_of(self, code: str) -> str:
        for c, h in zip(self.codes, self.headers, strict=True):
            if c == code:
                return h
        return code

    def convert(self, row: Row) -> Converted | Refused:
        """The report of ``row``, or the problems found before the contract is asked."""
        cells: dict[str, Cell] = {}
        problems: list[FieldProblem] = []
        for index, cell in enumerate(row.cells):
            code = self.codes[index] if index < len(self.codes) else None
            if blank(cell):
                continue
            header = self.headers[index] if index < len(self.headers) else \
                f"({column_letter(index)})"
            if code is None:
                problems.append(FieldProblem(header, f"a value in column {column_letter(index)}"
                                                     f", which has no header", "no_header"))
            elif isinstance(cell, Formula):
                problems.append(FieldProblem(header, f"a formula ({cell.text[:60]}): the import "
                                                     f"reads values; paste the values instead",
                                             "formula"))
            else:
                cells[code] = cell
        measures: dict[str, Decimal] = {}
        for code, cell in cells.items():
            if code in INDICATORS:
                number = read_number(cell)
                if isinstance(number, str):
                    problems.append(FieldProblem(self.header_of(code), number, "bad_number"))
                else:
                    measures[code] = number
        day = read_date(cells["date"]) if "date" in cells else None
        if isinstance(day, str):
            problems.append(FieldProblem(self.header_of("date"), day, "bad_date"))
        given_id = read_text(cells.get("id"))
        if problems:
            return Refused(row.number, problems, given_id)
        unit = read_text(cells.get("unit"))
        kind = read_text(cells.get("unit_kind"))
        campaign = read_text(cells.get("campaign"))
        raw: dict[str, Any] = {
            "version": 2,
            "campaign": CAMPAIGN_NAMES.get(folded(campaign), campaign) if campaign else None,
            "locality": read_locality(cells.get("locality")),
            "date": day.isoformat() if isinstance(day, dt.date) else None,
            "unit": None if unit is None else {
                "name": unit, "kind": kind if kind is not None else infer_unit_kind(unit).value},
            "measures": measures,
            "note": read_text(cells.get("note")),
            "village": read_text(cells.get("village")),
        }
        raw = {k: v for k, v in raw.items() if v is not None}
        canonical = _canonical(raw)
        report_id = given_id or str(uuid.uuid5(IMPORT_NAMESPACE, canonical))
        return Converted(row.number, {**raw, "id": report_id}, report_id, hash(canonical))

    def column_of(self, problem: FieldProblem) -> str | None:
        """The column a contract problem (``measures.road_km``, ``unit.name``) is about;
        ``None``: the row as a whole."""
        path = problem.field
        head, _, rest = path.partition(".")
        if head == "measures":
            return self.header_of(rest) if rest else "(indicators)"
        if head == "unit" and rest == "kind" and "unit_kind" in self.codes:
            return self.header_of("unit_kind")
        if head in FIXED_COLUMNS:
            return self.header_of(head)
        return None


def _canonical(raw: dict[str, Any]) -> str:
    content = {**raw, "measures": {k: format_decimal(v) for k, v in raw["measures"].items()}}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


UNIT_KINDS = tuple(k.value for k in UnitKind)
