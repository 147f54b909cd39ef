"""The JSON answers of the projector's routes, as documented in its OpenAPI document.

Documentation only: the routes build their answers themselves (:mod:`.http`,
:mod:`.answers`), and ``tests/integration/test_openapi_answers.py`` validates real
answers against these.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

_CLOSED = ConfigDict(extra="forbid", populate_by_name=True)

Quantities = dict[str, str]
"""Nonzero amounts by indicator code, as exact decimal strings."""


class LocalityRef(BaseModel):
    model_config = _CLOSED

    code: str = Field(description="GSO code (`VN` for the nation).")
    name: str
    level: str = Field(description="nation, province, district or commune.")


class LocalityAnswer(BaseModel):
    """A locality of the map asked, its parent and its children."""

    model_config = _CLOSED

    map: Literal["legacy", "2025"]
    code: str
    name: str
    level: str
    parent: LocalityRef | None
    children: list[LocalityRef]


class TotalsLocality(BaseModel):
    model_config = _CLOSED

    code: str
    name: str
    level: str
    parent: str | None = Field(description="The parent's code (none for the nation).")


class TotalsFilters(BaseModel):
    model_config = _CLOSED

    campaign: str | None
    indicator: str | None
    date_from: str | None = Field(alias="from", description="First date counted (ISO).")
    date_to: str | None = Field(alias="to", description="Last date counted (ISO).")


class ChildTotals(BaseModel):
    """A direct child's totals."""

    model_config = _CLOSED

    code: str
    name: str
    level: str
    totals: Quantities
    from_legacy: Quantities | None = Field(
        default=None, description="On the 2025 map with basis `all`: the part of `totals` "
                                  "converted from the legacy map's reports.")


class LegacySource(BaseModel):
    """A legacy-map locality whose reports could not be attributed to a 2025 commune."""

    model_config = _CLOSED

    map: Literal["legacy"]
    code: str
    name: str
    level: str | None
    why: str


class UnattributedTotals(BaseModel):
    """The legacy map's reports that the conversion cannot put in one child."""

    model_config = _CLOSED

    code: None
    name: str
    level: Literal["unattributed"]
    unattributed: Literal[True]
    totals: Quantities
    from_legacy: Quantities
    sources: list[LegacySource]


class TotalsAnswer(BaseModel):
    """The totals of a locality and of each direct child, with the filters applied and
    the stream position they reflect."""

    model_config = _CLOSED

    map: Literal["legacy", "2025"]
    basis: Literal["all", "reported"]
    locality: TotalsLocality
    filters: TotalsFilters
    position: int = Field(description="The stream sequence these totals reflect.")
    totals: Quantities
    from_legacy: Quantities | None = Field(
        default=None, description="On the 2025 map with basis `all`: the part of `totals` "
                                  "converted from the legacy map's reports.")
    units: dict[str, str] = Field(description="The unit of each indicator in `totals`.")
    children: list[ChildTotals | UnattributedTotals]
    late_amendments: int | None = Field(
        default=None, description="With `period`: how many events amended the period after "
                                  "the province closed it (absent when none).")


class Reopening(BaseModel):
    """A national admin's reopening of a closing."""

    model_config = _CLOSED

    seq: int
    at: str = Field(description="ISO timestamp.")
    by: str | None = Field(description="The token's name (none with authentication off).")
    reason: str | None


class PeriodClosing(BaseModel):
    """One closing of a period: who closed it, when, why; its reopening if any."""

    model_config = _CLOSED

    closing: int = Field(description="The closing's number (1 for the first).")
    seq: int = Field(description="The closing's sequence in the stream.")
    closed_at: str = Field(description="ISO timestamp.")
    closed_by: str | None = Field(description="The token's name (none with authentication "
                                              "off).")
    reason: str
    reopened: Reopening | None


class ClosedTotalsClosing(PeriodClosing):
    period: str


class ClosedTotalsFilters(BaseModel):
    model_config = _CLOSED

    campaign: str | None
    indicator: str | None


class ClosedTotalsAnswer(BaseModel):
    """``as_closed=true``: the totals of a locality and of each direct child as the
    province's closing of the period froze them."""

    model_config = _CLOSED

    map: Literal["legacy", "2025"]
    locality: TotalsLocality
    period: str
    as_closed: Literal[True]
    province: str = Field(description="The province whose closing this is.")
    closing: ClosedTotalsClosing
    filters: ClosedTotalsFilters
    position: int = Field(description="The stream position of the read model.")
    totals: Quantities
    units: dict[str, str] = Field(description="The unit of each indicator in `totals`.")
    children: list[ChildTotals]


class TotalsAnswers(RootModel[TotalsAnswer | ClosedTotalsAnswer]):
    """The live totals, or with ``as_closed=true`` the totals as the period was closed."""


class ControlTotalsEntry(BaseModel):
    """The province's own totals of a campaign, submitted for a closing."""

    model_config = _CLOSED

    campaign: str
    closing: int
    seq: int
    submitted_at: str = Field(description="ISO timestamp.")
    submitted_by: str | None
    totals: Quantities


class PeriodSummary(BaseModel):
    """A period of the province: its closings and reopenings, late amendments and control
    totals."""

    model_config = _CLOSED

    period: str
    status: Literal["open", "closed"]
    closings: list[PeriodClosing]
    late_amendments: int = Field(description="Events that amended the period after a "
                                             "closing.")
    control_totals: list[ControlTotalsEntry]


class PeriodsAnswer(BaseModel):
    """Every period of a province that was closed (or amended late)."""

    model_config = _CLOSED

    map: Literal["legacy", "2025"]
    province: str
    position: int
    periods: list[PeriodSummary]


class LateAmendment(BaseModel):
    model_config = _CLOSED

    seq: int
    closing: int = Field(description="The closing it came after.")
    activity_id: str
    kind: str = Field(description="logged, corrected or retracted.")


class IndicatorComparison(BaseModel):
    """An indicator's figure as the period was closed, the province's own, and the
    difference (the province's minus the projected); none without control totals."""

    model_config = _CLOSED

    indicator: str
    unit: str
    projected: str
    province: str | None
    difference: str | None


class CampaignComparison(BaseModel):
    model_config = _CLOSED

    campaign: str | None = Field(description="None: every campaign, without control totals.")
    closing: int
    indicators: list[IndicatorComparison]


class PeriodDetail(PeriodSummary):
    """A period of a province: its closings, late amendments, and per campaign the
    comparison of the closed figures with the province's control totals."""

    map: Literal["legacy", "2025"]
    province: str
    position: int
    late: list[LateAmendment]
    comparisons: list[CampaignComparison]


class DeadLetterEntry(BaseModel):
    model_config = _CLOSED

    generation: int
    seq: int = Field(description="The original event's sequence in the activity stream.")
    subject: str
    reason: str
    attempts: int
    dead_lettered_at: str = Field(description="ISO timestamp.")
    redriven_at: str | None = Field(description="ISO timestamp, once redriven.")


class DeadLetters(BaseModel):
    model_config = _CLOSED

    dead_letters: list[DeadLetterEntry]


class RedriveResult(BaseModel):
    model_config = _CLOSED

    generation: int
    seq: int
    status: Literal["applied", "already counted", "still failing"]
    reason: str | None = Field(default=None, description="Why it still fails.")


class RedriveAnswer(BaseModel):
    model_config = _CLOSED

    results: list[RedriveResult]


class RebuildProgress(BaseModel):
    """The last rebuild: ``idle`` (none), ``running`` or ``done``. A standby knows only the
    generation being built and its position."""

    model_config = _CLOSED

    state: Literal["idle", "running", "done"]
    generation: int | None = None
    position: int | None = None
    target: int | None = None
    percent: float | None = None
    elapsed_seconds: float | None = None
    events_per_second: float | None = None


class StreamState(BaseModel):
    model_config = _CLOSED

    messages: int
    bytes: int
    last_seq: int


class ProvinceFreshness(BaseModel):
    model_config = _CLOSED

    map: Literal["legacy", "2025"]
    province: str
    name: str
    last_event_at: str = Field(description="When its last counted event was recorded (ISO).")
    days_silent: float


class StatusAnswer(BaseModel):
    """This instance, the stream, lag, dead letters and freshness per province."""

    model_config = _CLOSED

    instance: str
    role: Literal["applying", "standby"]
    applying_instance: str | None
    stream: StreamState | None = Field(description="None when NATS does not answer.")
    position: int
    lag: int | None
    generation: int | None
    dead_letters_pending: int
    rebuild: RebuildProgress
    freshness: list[ProvinceFreshness] = Field(
        description="Each province that ever reported; see the metric "
                    "`cungdan_projector_province_last_event_timestamp_seconds` for all.")


class DateRange(BaseModel):
    model_config = _CLOSED

    from_: str | None = Field(alias="from", description="First day (ISO), null: open.")
    to: str | None = Field(description="Last day (ISO), null: open.")


class ChildCompleteness(BaseModel):
    """One child: its reports in the period and all time, its last report's date."""

    model_config = _CLOSED

    code: str
    name: str
    level: str
    reports: int = Field(description="Reports dated in the period (all time without one).")
    reports_all_time: int
    last_report: str | None = Field(description="Date of its last report, whenever.")
    reported: bool = Field(description="Whether it reported in the period.")


class CompletenessAnswer(BaseModel):
    """Which children of a locality reported, and the share that did."""

    model_config = _CLOSED

    map: Literal["legacy", "2025"]
    campaign: str | None
    locality: LocalityRef
    period: DateRange
    children: list[ChildCompleteness]
    reported: int
    children_count: int
    share: float = Field(description="reported / children_count (1.0 without children).")


class PositionAnswer(BaseModel):
    """The stream position the served totals reflect."""

    model_config = _CLOSED

    position: int
