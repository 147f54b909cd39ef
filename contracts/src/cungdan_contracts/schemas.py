"""JSON Schema of every contract, generated from the models (never written by hand).

``python -m cungdan_contracts.schemas DIR`` writes one file per contract and
version; a test keeps the committed files in sync with the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .activity_v1 import ActivityLoggedV1, ActivityReportV1
from .activity_v2 import ActivityLoggedV2, ActivityReportV2
from .corrections import (
    ActivityCorrected,
    ActivityRetracted,
    CorrectionRequest,
    RetractionRequest,
)
from .periods import (
    ControlTotalsRequest,
    ControlTotalsSubmitted,
    PeriodClosed,
    PeriodReopened,
    PeriodRequest,
)

CONTRACTS: dict[str, type[BaseModel]] = {
    "ActivityReport.v1": ActivityReportV1,
    "ActivityLogged.v1": ActivityLoggedV1,
    "ActivityReport.v2": ActivityReportV2,
    "ActivityLogged.v2": ActivityLoggedV2,
    "CorrectionRequest.v1": CorrectionRequest,
    "RetractionRequest.v1": RetractionRequest,
    "ActivityCorrected.v1": ActivityCorrected,
    "ActivityRetracted.v1": ActivityRetracted,
    "PeriodRequest.v1": PeriodRequest,
    "ControlTotalsRequest.v1": ControlTotalsRequest,
    "PeriodClosed.v1": PeriodClosed,
    "PeriodReopened.v1": PeriodReopened,
    "ControlTotalsSubmitted.v1": ControlTotalsSubmitted,
}


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


def render(name: str) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name,
              **schema_of(CONTRACTS[name])}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONTRACTS:
        path = directory / f"{name}.schema.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - thin CLI
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "contracts/schemas")):
        print(path)
