"""The JSON answers of ingest's routes, as documented in its OpenAPI document.

Documentation only: the routes build their answers themselves (:mod:`.http`), and
``tests/integration/test_openapi_answers.py`` validates real answers against these.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cungdan_contracts import ActivityCorrected, ActivityLoggedV2, ActivityRetracted
from cungdan_contracts.periods import ControlTotalsSubmitted, PeriodClosed, PeriodReopened
from cungdan_service.openapi_answers import ProblemField

_CLOSED = ConfigDict(extra="forbid")


class Stored(BaseModel):
    """A report, correction or retraction in the log: stored now (202, ``accepted``) or
    before, with the same content (200, ``duplicate``)."""

    model_config = _CLOSED

    id: str = Field(description="The activity's id (a correction's: the correction's).")
    status: Literal["accepted", "duplicate"]
    seq: int = Field(description="Its sequence in the stream: a read with `min_seq` of it "
                                 "on the projector waits until it is counted.")


class BatchCounts(BaseModel):
    model_config = _CLOSED

    accepted: int
    duplicate: int
    rejected: int
    unavailable: int


class ClosingNamed(BaseModel):
    """The closing of the period a report is dated in, that refused it."""

    model_config = _CLOSED

    period: str = Field(description="The period closed: a year, quarter or month "
                                    "(`2023`, `2023-Q2`, `2023-05`).")
    closing: int = Field(description="The closing's number (1 for the first).")
    seq: int = Field(description="The closing's sequence in the stream.")
    closed_at: dt.datetime = Field(description="When it was closed.")
    closed_by: str | None = Field(description="The token that closed it (null with "
                                              "authentication off).")
    reason: str = Field(description="Why it was closed, as the closer said.")


class BatchItem(BaseModel):
    """The outcome of one report of a batch, by its position."""

    model_config = _CLOSED

    index: int
    id: str | None = Field(description="The report's id, when it had a valid one.")
    status: Literal["accepted", "duplicate", "rejected", "unavailable"]
    reason: Literal["out-of-scope", "period-closed"] | None = Field(
        default=None, description="Present when the report lies outside the token's "
                                  "provinces, or is dated in a period closed for its "
                                  "province.")
    closing: ClosingNamed | None = Field(default=None, description="With `period-closed`: "
                                                                   "the closing.")
    seq: int | None = Field(default=None, description="Its sequence in the stream, once "
                                                      "stored.")
    errors: list[ProblemField] | None = Field(default=None,
                                              description="Why it was rejected.")


class BatchAnswer(BaseModel):
    """Each report's outcome; the batch is answered 200 whatever they are (503 when one
    could not be stored: then resend the batch, the ids make it safe)."""

    model_config = _CLOSED

    counts: BatchCounts
    results: list[BatchItem]


class LoggedEntry(ActivityLoggedV2):
    """The activity as logged (in the current contract version), at ``seq``."""

    seq: int


class CorrectedEntry(ActivityCorrected):
    seq: int


class RetractedEntry(ActivityRetracted):
    seq: int


HistoryEntry = Annotated[LoggedEntry | CorrectedEntry | RetractedEntry,
                         Field(discriminator="type")]


class ActivityHistory(BaseModel):
    """An activity's events in stream order, and what they amount to."""

    model_config = _CLOSED

    id: str
    status: Literal["active", "retracted"]
    measures: dict[str, str] = Field(description="The current measures (the last "
                                                 "correction's, else the report's), as "
                                                 "decimal strings.")
    history: list[HistoryEntry]


class PeriodAction(BaseModel):
    """A closing, reopening or control totals in the log: stored now (202, ``accepted``)
    or before, the same request (200, ``duplicate``)."""

    model_config = _CLOSED

    province: str
    map: Literal["legacy", "2025"]
    period: str
    status: Literal["accepted", "duplicate"]
    seq: int = Field(description="Its sequence in the stream.")
    type: Literal["PeriodClosed", "PeriodReopened", "ControlTotalsSubmitted"]
    closing: int = Field(description="The closing's number (1 for the first).")


class ClosedEntry(PeriodClosed):
    seq: int


class ReopenedEntry(PeriodReopened):
    seq: int


class ControlEntry(ControlTotalsSubmitted):
    seq: int


PeriodHistoryEntry = Annotated[ClosedEntry | ReopenedEntry | ControlEntry,
                               Field(discriminator="type")]


class PeriodHistory(BaseModel):
    """A period's closings, reopenings and control totals, in stream order."""

    model_config = _CLOSED

    province: str
    map: Literal["legacy", "2025"]
    period: str
    history: list[PeriodHistoryEntry]
