"""``ActivityCorrected`` and ``ActivityRetracted`` v1: changing what was reported, audited.

A correction replaces the measures of an earlier activity as a whole set: indicators
it leaves out count zero from then on. A retraction withdraws the activity and is
final. Both name the activity, carry the reason, and say who made the change and
when. The log keeps the original, so the history can always be read back.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .fields import CampaignCode, Measures, ProvinceCode
from .localities import AdminMap


class CorrectionRequest(BaseModel):
    """A client's correction: new measures for an earlier activity."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: UUID = Field(description="Chosen by the client; the idempotency key of the correction.")
    measures: Measures
    reason: str = Field(min_length=1, max_length=1000, description="Why, in a sentence.")


class RetractionRequest(BaseModel):
    """A client's retraction of an earlier activity."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=1000, description="Why, in a sentence.")


class _Change(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    recorded_at: AwareDatetime = Field(description="When ingest accepted the change (UTC).")
    source_province: ProvinceCode = Field(description="The province that made the change.")
    map: AdminMap = Field(description="The map of the activity's locality.")
    reported_by: str | None = Field(default=None, max_length=100,
                                    description="Name of the API token that made the change.")
    activity_id: UUID = Field(description="The activity changed.")
    campaign: CampaignCode = Field(description="The activity's campaign (for routing).")


class ActivityCorrected(_Change):
    type: Literal["ActivityCorrected"] = "ActivityCorrected"
    correction: CorrectionRequest


class ActivityRetracted(_Change):
    type: Literal["ActivityRetracted"] = "ActivityRetracted"
    retraction: RetractionRequest
