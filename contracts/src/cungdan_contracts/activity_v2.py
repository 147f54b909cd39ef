"""``ActivityLogged`` v2, the current shape.

What changed from v1, and why:
- ``unit`` is structured: a name and a ``kind`` (party cell, party committee, mass
  organisation, youth union, police, military, border guard, government, individual,
  other). Committees compare units by kind, and seed 001 compares the military with
  the party bloc. v1's free text is upcast with :func:`.upcasting.infer_unit_kind`.
- ``village``: the village or hamlet below the commune (thôn, bản, tổ dân phố). Seed
  002 reports work in Khuổi Tẩu village of Phúc Lộc commune. It has no official code,
  so it is a name.
- The event carries ``reported_by``: the name of the token that reported it, or
  ``None`` when ingest runs without tokens. This is for the audit trail.
- A report says ``"version": 2``. Reports without it are v1.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .fields import CampaignCode, LocalityCode, Measures, ProvinceCode, fingerprint_of
from .localities import AdminMap


class UnitKind(StrEnum):
    PARTY_CELL = "party_cell"
    PARTY_COMMITTEE = "party_committee"
    MASS_ORGANISATION = "mass_organisation"
    YOUTH_UNION = "youth_union"
    POLICE = "police"
    MILITARY = "military"
    BORDER_GUARD = "border_guard"
    GOVERNMENT = "government"
    INDIVIDUAL = "individual"
    OTHER = "other"


class OrganisingUnit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=300, description="The unit's name.")
    kind: UnitKind = Field(description="What kind of unit it is.")


class ActivityReportV2(BaseModel):
    """One activity as reported in v2."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True,
                              title="ActivityReportV2")

    version: Literal[2] = Field(description="The report contract version: 2.")
    id: UUID = Field(description="Chosen by the client; the idempotency key of the report.")
    campaign: CampaignCode = Field(description="Campaign code from the campaign catalog.")
    locality: LocalityCode = Field(
        description="Official GSO code (province 2, district 3, commune 5 digits, or VN), "
                    "read in the administrative map in force on `date`.")
    village: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="Village or hamlet below the commune (thôn, bản, tổ dân phố), by name.")
    date: dt.date = Field(description="The day the activity took place (ISO 8601).")
    unit: OrganisingUnit
    measures: Measures
    note: str | None = Field(default=None, max_length=2000)

    def fingerprint(self) -> str:
        return fingerprint_of(self)


class ActivityLoggedV2(BaseModel):
    """The v2 event: a report accepted by ingest, as stored in the stream."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="ActivityLoggedV2")

    type: Literal["ActivityLogged"] = "ActivityLogged"
    version: Literal[2] = 2
    recorded_at: AwareDatetime = Field(description="When ingest accepted the report (UTC).")
    source_province: ProvinceCode = Field(
        description="The province that reported it, in the same map as the locality.")
    map: AdminMap = Field(description="The administrative map the locality code is read in.")
    reported_by: str | None = Field(
        default=None, max_length=100, description="Name of the API token that reported it.")
    activity: ActivityReportV2

    @property
    def id(self) -> UUID:
        return self.activity.id
