"""``ActivityLogged`` v1: an activity report as a client sends it, and the event ingest publishes.

The report is what a province sends; the event wraps it in an envelope that
the ingest adds (type and version, when it was recorded, the source province
and the administrative map the locality code is read in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .catalog import CAMPAIGNS, INDICATORS
from .localities import AdminMap
from .quantities import Quantity, decimal_places, format_decimal

MAX_MEASURES = len(INDICATORS)
LOCALITY_PATTERN = r"^(VN|[0-9]{2}|[0-9]{3}|[0-9]{5})$"


def _known_campaign(code: str) -> str:
    if code not in CAMPAIGNS:
        raise PydanticCustomError(
            "unknown_campaign", "unknown campaign '{code}' (known: {known})",
            {"code": code, "known": ", ".join(CAMPAIGNS)})
    return code


def _known_indicator(code: str) -> str:
    if code not in INDICATORS:
        raise PydanticCustomError(
            "unknown_indicator", "unknown indicator '{code}'", {"code": code})
    return code


def _locality_code(code: str) -> str:
    if not _LOCALITY_RE.fullmatch(code):
        raise PydanticCustomError(
            "locality_format",
            "'{code}' is not a locality code (VN, or a GSO code of 2, 3 or 5 digits)",
            {"code": code})
    return code


_LOCALITY_RE = re.compile(LOCALITY_PATTERN)
CampaignCode = Annotated[
    str,
    AfterValidator(_known_campaign),
    WithJsonSchema({"type": "string", "enum": list(CAMPAIGNS)}),
]
LocalityCode = Annotated[
    str,
    AfterValidator(_locality_code),
    WithJsonSchema({"type": "string", "pattern": LOCALITY_PATTERN}),
]
IndicatorCode = Annotated[
    str,
    AfterValidator(_known_indicator),
    WithJsonSchema({"type": "string", "enum": list(INDICATORS)}),
]


class ActivityReport(BaseModel):
    """One activity as reported: the client's JSON, field for field."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: UUID = Field(description="Chosen by the client; the idempotency key of the report.")
    campaign: CampaignCode = Field(description="Campaign code from the campaign catalog.")
    locality: LocalityCode = Field(
        description="Official GSO code (province 2, district 3, commune 5 digits, or VN), "
                    "read in the administrative map in force on `date`.")
    date: dt.date = Field(description="The day the activity took place (ISO 8601).")
    unit: str = Field(min_length=1, max_length=300, description="Organising unit, free text.")
    measures: dict[IndicatorCode, Quantity] = Field(
        min_length=1, max_length=MAX_MEASURES,
        description="Indicator code -> quantity, in the indicator's own unit.")
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("measures")
    @classmethod
    def _within_indicator_precision(cls, measures: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, quantity in measures.items():
            indicator = INDICATORS[code]
            if decimal_places(quantity) > indicator.scale:
                raise PydanticCustomError(
                    "too_precise",
                    "{indicator} takes {what} (unit: {unit}); got {value}",
                    {"indicator": code, "unit": indicator.unit, "value": format_decimal(quantity),
                     "what": "whole numbers" if indicator.scale == 0
                     else f"at most {indicator.scale} decimal places"})
        return measures

    def fingerprint(self) -> str:
        """A digest of the report's content, equal for equal content however it was written."""
        canonical = self.model_dump(mode="json")
        return hashlib.sha256(
            json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ActivityLogged(BaseModel):
    """The event: a report accepted by ingest, as stored in the stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["ActivityLogged"] = "ActivityLogged"
    version: Literal[1] = 1
    recorded_at: AwareDatetime = Field(description="When ingest accepted the report (UTC).")
    source_province: str = Field(
        pattern=r"^(VN|[0-9]{2})$",
        description="The province that reported it, in the same map as the locality.")
    map: AdminMap = Field(description="The administrative map the locality code is read in.")
    activity: ActivityReport

    @property
    def id(self) -> UUID:
        return self.activity.id
