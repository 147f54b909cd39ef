"""``ActivityLogged`` v1 (frozen): the first published shape, still in the log forever.

The report is what a province sends; the event wraps it in an envelope that
the ingest adds (type and version, when it was recorded, the source province
and the administrative map the locality code is read in). Read old events
through :func:`cungdan_contracts.decode_event`, which upcasts them to the
current version.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .fields import (
    CampaignCode,
    LocalityCode,
    Measures,
    MeasuresV1,
    ProvinceCode,
    fingerprint_of,
)
from .localities import AdminMap


class LoggedActivityV1(BaseModel):
    """One activity as the v1 event holds it: the organising unit is free text, and the
    measures are of the catalog of contracts 1.0 (the v1 event is frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True,
                              title="ActivityReport")

    id: UUID = Field(description="Chosen by the client; the idempotency key of the report.")
    campaign: CampaignCode = Field(description="Campaign code from the campaign catalog.")
    locality: LocalityCode = Field(
        description="Official GSO code (province 2, district 3, commune 5 digits, or VN), "
                    "read in the administrative map in force on `date`.")
    date: dt.date = Field(description="The day the activity took place (ISO 8601).")
    unit: str = Field(min_length=1, max_length=300, description="Organising unit, free text.")
    measures: MeasuresV1
    note: str | None = Field(default=None, max_length=2000)

    def fingerprint(self) -> str:
        return fingerprint_of(self)


class ActivityReportV1(LoggedActivityV1):
    """One activity as a client reports it in v1: as the v1 event holds it, but measured in
    today's catalog (a v1 report is stored as a v2 event; the catalog may grow)."""

    measures: Measures


class ActivityLoggedV1(BaseModel):
    """The v1 event: a report accepted by ingest, as stored in the stream."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="ActivityLogged")

    type: Literal["ActivityLogged"] = "ActivityLogged"
    version: Literal[1] = 1
    recorded_at: AwareDatetime = Field(description="When ingest accepted the report (UTC).")
    source_province: ProvinceCode = Field(
        description="The province that reported it, in the same map as the locality.")
    map: AdminMap = Field(description="The administrative map the locality code is read in.")
    activity: LoggedActivityV1

    @property
    def id(self) -> UUID:
        return self.activity.id
