"""Field types shared by every contract version: catalog codes, locality codes, measures."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from .catalog import CAMPAIGNS, INDICATORS, V1_INDICATORS
from .quantities import Quantity, decimal_places, format_decimal

MAX_MEASURES = len(INDICATORS)
_V1_CODES = frozenset(V1_INDICATORS)
LOCALITY_PATTERN = r"^(VN|[0-9]{2}|[0-9]{3}|[0-9]{5})$"
PROVINCE_PATTERN = r"^(VN|[0-9]{2})$"
_LOCALITY_RE = re.compile(LOCALITY_PATTERN)


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


def _known_v1_indicator(code: str) -> str:
    if code not in _V1_CODES:
        raise PydanticCustomError(
            "unknown_indicator", "unknown indicator '{code}' in a version 1 event",
            {"code": code})
    return code


def _locality_code(code: str) -> str:
    if not _LOCALITY_RE.fullmatch(code):
        raise PydanticCustomError(
            "locality_format",
            "'{code}' is not a locality code (VN, or a GSO code of 2, 3 or 5 digits)",
            {"code": code})
    return code


def _within_indicator_precision(measures: dict[str, Decimal]) -> dict[str, Decimal]:
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
Measures = Annotated[
    dict[IndicatorCode, Quantity],
    Field(min_length=1, max_length=MAX_MEASURES,
          description="Indicator code -> quantity, in the indicator's own unit."),
    AfterValidator(_within_indicator_precision),
]
V1IndicatorCode = Annotated[
    str,
    AfterValidator(_known_v1_indicator),
    WithJsonSchema({"type": "string", "enum": list(V1_INDICATORS)}),
]
MeasuresV1 = Annotated[
    dict[V1IndicatorCode, Quantity],
    Field(min_length=1, max_length=len(V1_INDICATORS),
          description="Indicator code -> quantity, in the indicator's own unit."),
    AfterValidator(_within_indicator_precision),
]
"""The measures of a version 1 event: the catalog of contracts 1.0 (frozen)."""
ProvinceCode = Annotated[str, Field(pattern=PROVINCE_PATTERN)]


def fingerprint_of(content: BaseModel | dict[str, Any]) -> str:
    """A digest of content, equal for equal content however it was written."""
    canonical = content.model_dump(mode="json") if isinstance(content, BaseModel) else content
    return hashlib.sha256(
        json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
