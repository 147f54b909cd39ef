"""Reporting periods, and the events that close and reopen them for a province.

A period is a year (``2024``), a quarter (``2024-Q2``) or a month (``2024-04``): an
inclusive range of days. A province *closes* a period of a map when its figures for that
period are published; a national admin may *reopen* it; it may be closed again. Each
closing of a (map, province, period) has a number, 1 for the first; a reopening names the
closing it undoes. While closed, the province may send its own *control totals* for a
campaign, to be compared with the projected figures.

These are events on the same stream as the activities, under their own subjects
(:func:`period_subject`), so the stream's order decides which reports a closing counts:
a report stored before the close is in the closed figures, one stored after is not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .codec import MalformedJSONError, loads_exact
from .fields import CampaignCode, Measures, ProvinceCode, fingerprint_of
from .localities import AdminMap
from .period_dates import PERIOD_PATTERN, default_map, period_range, periods_of
from .subjects import ALL_PERIOD_EVENTS
from .upcasting import UnknownContractError

Period = Annotated[str, Field(pattern=PERIOD_PATTERN,
                              description="YYYY, YYYY-Qn or YYYY-MM.")]


# --- requests -----------------------------------------------------------------------------


class PeriodRequest(BaseModel):
    """A client's close or reopen: why, in a sentence."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=1000, description="Why, in a sentence.")


class ControlTotalsRequest(BaseModel):
    """A province's own totals of one campaign for a closed period."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    campaign: CampaignCode
    measures: Measures


# --- events -------------------------------------------------------------------------------


class _PeriodEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    recorded_at: AwareDatetime = Field(description="When ingest accepted it (UTC).")
    province: ProvinceCode = Field(description="The province whose period it is.")
    map: AdminMap = Field(description="The map the province code is read in.")
    period: Period
    closing: int = Field(ge=1, description="The closing's number (1 for the first).")
    by: str | None = Field(default=None, max_length=100,
                           description="Name of the API token that sent it.")


class PeriodClosed(_PeriodEvent):
    """The province's figures for the period are closed: later reports are refused."""

    type: Literal["PeriodClosed"] = "PeriodClosed"
    reason: str = Field(min_length=1, max_length=1000)


class PeriodReopened(_PeriodEvent):
    """Closing ``closing`` is undone (by a national admin): reports are taken again."""

    type: Literal["PeriodReopened"] = "PeriodReopened"
    reason: str = Field(min_length=1, max_length=1000)


class ControlTotalsSubmitted(_PeriodEvent):
    """The province's own totals of a campaign, for the period as closed by ``closing``."""

    type: Literal["ControlTotalsSubmitted"] = "ControlTotalsSubmitted"
    control: ControlTotalsRequest

    def key(self) -> str:
        """What makes the same submission count once: its content and closing."""
        return fingerprint_of({"closing": self.closing,
                               **self.control.model_dump(mode="json")})[:32]


PeriodEvent = PeriodClosed | PeriodReopened | ControlTotalsSubmitted

PERIOD_EVENTS: dict[str, type[PeriodClosed] | type[PeriodReopened]
                    | type[ControlTotalsSubmitted]] = {
    "PeriodClosed": PeriodClosed, "PeriodReopened": PeriodReopened,
    "ControlTotalsSubmitted": ControlTotalsSubmitted}


def period_event_from_json(data: dict[str, Any]) -> PeriodEvent:
    """Raises UnknownContractError or pydantic's ValidationError."""
    kind, version = data.get("type"), data.get("version")
    model = PERIOD_EVENTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise UnknownContractError(f"unknown period event type {kind!r}")
    if version != 1:
        raise UnknownContractError(f"unknown {kind} version {version!r} (this code reads 1)")
    return model.model_validate(data)


def decode_period_event(data: bytes) -> PeriodEvent:
    """Raises MalformedJSONError, UnknownContractError or pydantic's ValidationError."""
    decoded = loads_exact(data)
    if not isinstance(decoded, dict):
        raise MalformedJSONError("an event is a JSON object")
    return period_event_from_json(decoded)


# --- subjects -----------------------------------------------------------------------------

PERIOD_PREFIX = ALL_PERIOD_EVENTS.removesuffix(">")
CLOSED, REOPENED, CONTROL = "closed", "reopened", "control"
_KINDS: dict[type[BaseModel], str] = {
    PeriodClosed: CLOSED, PeriodReopened: REOPENED, ControlTotalsSubmitted: CONTROL}


def period_filter(province: str, admin_map: AdminMap, period: str) -> str:
    """Every event of one period of one province."""
    return f"{PERIOD_PREFIX}{province}.{admin_map.value}.{period}.>"


def event_key(event: PeriodEvent) -> str:
    """The key the event is stored once under: the closing's number for a close or a
    reopening (one of each per number), the content's digest for control totals."""
    if isinstance(event, ControlTotalsSubmitted):
        return event.key()
    return str(event.closing)


def period_subject(event: PeriodEvent) -> str:
    """``cungdan.period.<province>.<map>.<period>.<kind>.<key>.v<version>``."""
    return (f"{PERIOD_PREFIX}{event.province}.{event.map.value}.{event.period}."
            f"{_KINDS[type(event)]}.{event_key(event)}.v{event.version}")


def once_filter(event: PeriodEvent) -> str:
    """The subjects that may already hold this event (any version)."""
    return (f"{PERIOD_PREFIX}{event.province}.{event.map.value}.{event.period}."
            f"{_KINDS[type(event)]}.{event_key(event)}.>")


def msg_id(event: PeriodEvent) -> str:
    """Its ``Nats-Msg-Id``."""
    return (f"period:{event.province}:{event.map.value}:{event.period}:"
            f"{_KINDS[type(event)]}:{event_key(event)}")


def is_period_subject(subject: str) -> bool:
    return subject.startswith(PERIOD_PREFIX)


__all__ = [
    "ALL_PERIOD_EVENTS", "PERIOD_PATTERN", "ControlTotalsRequest", "ControlTotalsSubmitted",
    "Period", "PeriodClosed", "PeriodEvent", "PeriodReopened", "PeriodRequest",
    "decode_period_event", "default_map", "event_key", "is_period_subject",
    "msg_id", "once_filter", "period_event_from_json", "period_filter", "period_range",
    "period_subject", "periods_of",
]
