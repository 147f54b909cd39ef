"""The import summary: what became of each row of a file, counted as the rows come in
(DHIS2's import summary is the model). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field


class RowProblem(BaseModel):
    """One reason a row was not accepted (a row may have several)."""

    row: int = Field(description="The row's number in the file; the header is row 1.")
    outcome: Literal["duplicate", "conflict", "rejected"]
    column: str | None = Field(description="The column, as its header is written in the "
                                           "file; null for the row as a whole.")
    reason: str = Field(description="Why, in the words of the API's problem details.")
    problem: str = Field(description="A short code of the reason: out-of-scope, duplicate, "
                                     "id_conflict, bad_number, bad_date, formula, "
                                     "future_date, unknown_locality, ...")
    id: str | None = Field(default=None, description="The report's id (given or derived).")
    seq: int | None = Field(default=None, description="Stream sequence of the report "
                                                      "already stored under this id.")


class ImportCounts(BaseModel):
    rows: int = Field(0, description="Data rows read (comment and blank rows left out).")
    accepted: int = Field(0, description="Stored now (with dry_run: would be).")
    duplicate: int = Field(0, description="Already stored, or repeating an earlier row.")
    conflict: int = Field(0, description="The id names a different report.")
    rejected: int = Field(0, description="Invalid, or outside the token's provinces.")
    out_of_scope: int = Field(0, description="Of the rejected: outside the token's "
                                             "provinces.")


class ImportSummary(BaseModel):
    """The answer to an import: what became of each row (DHIS2's import summary)."""

    dry_run: bool
    format: Literal["csv", "xlsx"]
    separator: str | None = Field(None, description="The separator a CSV was read with (`,` "
                                                    "`;` or tab); null for XLSX.")
    encoding: Literal["utf-8", "utf-16"] | None = Field(
        None, description="The text encoding a CSV was read in (with or without a byte order "
                          "mark); null for XLSX.")
    columns: list[str] = Field(description="The column codes read, in the file's order.")
    counts: ImportCounts
    rows: list[RowProblem] = Field(description="Why each row not accepted was not, one entry "
                                               "per reason, in file order (up to a limit: see "
                                               "rows_not_listed).")
    rows_not_listed: int = Field(0, description="Entries beyond the limit, not listed.")


Outcome = Literal["accepted", "duplicate", "conflict", "rejected", "out_of_scope"]
Problem = tuple[str | None, str, str]
"""(column or None, reason, code)."""


@dataclass
class Tally:
    """The summary as rows come in; keeps at most ``most_listed`` entries."""

    most_listed: int
    counts: ImportCounts = field(default_factory=ImportCounts)
    listed: list[RowProblem] = field(default_factory=list)
    not_listed: int = 0

    def add(self, row: int, outcome: Outcome, *, id: str | None = None,
            seq: int | None = None, problems: Iterable[Problem] = ()) -> None:
        self.counts.rows += 1
        if outcome == "out_of_scope":
            self.counts.out_of_scope += 1
            self.counts.rejected += 1
        else:
            setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
        if outcome == "accepted":
            return
        listed: Literal["duplicate", "conflict", "rejected"] = \
            "rejected" if outcome == "out_of_scope" else outcome
        for column, reason, code in problems:
            if len(self.listed) >= self.most_listed:
                self.not_listed += 1
                continue
            self.listed.append(RowProblem(row=row, outcome=listed, column=column,
                                          reason=reason, problem=code, id=id, seq=seq))

    def summary(self, *, dry_run: bool, kind: Literal["csv", "xlsx"],
                columns: Sequence[str], separator: str | None = None,
                encoding: Literal["utf-8", "utf-16"] | None = None) -> ImportSummary:
        return ImportSummary(dry_run=dry_run, format=kind, separator=separator,
                             encoding=encoding,
                             columns=list(columns),
                             counts=self.counts, rows=sorted(self.listed, key=lambda r: r.row),
                             rows_not_listed=self.not_listed)
