"""The AsyncAPI document of the events (cungdan_service.asyncapi): generated from the code,
deterministic, committed as docs/asyncapi.json, and served by both services."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from cungdan_contracts import (
    CAMPAIGNS,
    ActivityCorrected,
    ActivityLoggedV1,
    ActivityLoggedV2,
    ActivityRetracted,
    AdminMap,
)
from cungdan_contracts.periods import (
    ControlTotalsRequest,
    ControlTotalsSubmitted,
    PeriodClosed,
    PeriodReopened,
    period_subject,
)
from cungdan_contracts.subjects import (
    corrected_subject,
    layout1_corrected_subject,
    layout1_logged_subject,
    layout1_retracted_subject,
    logged_subject,
    parse,
    retracted_subject,
)
from cungdan_ingest.app import create_app as create_ingest
from cungdan_ingest.settings import IngestSettings
from cungdan_projector.app import create_app as create_projector
from cungdan_projector.settings import ProjectorSettings
from cungdan_service.asyncapi import asyncapi_document, asyncapi_html, asyncapi_json

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.json"
REGENERATE = ".venv/bin/python -m cungdan_service.asyncapi docs/asyncapi.json"

ACTIVITY, CORRECTION = uuid.uuid4(), uuid.uuid4()
# channel -> (subject built by cungdan_contracts.subjects, payload model)
EVENT_CHANNELS: dict[str, tuple[str, type[Any]]] = {
    "ActivityLogged.v2": (
        logged_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY), ActivityLoggedV2),
    "ActivityLogged.v2.layout1": (
        layout1_logged_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY),
        ActivityLoggedV2),
    "ActivityLogged.v1.layout1": (
        layout1_logged_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY, version=1),
        ActivityLoggedV1),
    "ActivityCorrected.v1": (
        corrected_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY, CORRECTION),
        ActivityCorrected),
    "ActivityCorrected.v1.layout1": (
        layout1_corrected_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY, CORRECTION),
        ActivityCorrected),
    "ActivityRetracted.v1": (
        retracted_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY), ActivityRetracted),
    "ActivityRetracted.v1.layout1": (
        layout1_retracted_subject(AdminMap.LEGACY, "15", "dan-van-kheo", ACTIVITY),
        ActivityRetracted),
}
_CLOSED = PeriodClosed(recorded_at=dt.datetime(2024, 7, 1, tzinfo=dt.UTC), province="15",
                       map=AdminMap.LEGACY, period="2024-Q2", closing=1, reason="published")
_CONTROL = ControlTotalsSubmitted(
    recorded_at=_CLOSED.recorded_at, province="15", map=AdminMap.LEGACY, period="2024-Q2",
    closing=1, control=ControlTotalsRequest(campaign="dan-van-kheo",
                                            measures={"models_registered": Decimal(128)}))
PERIOD_CHANNELS: dict[str, tuple[str, type[Any]]] = {
    "PeriodClosed.v1": (period_subject(_CLOSED), PeriodClosed),
    "PeriodReopened.v1": (
        period_subject(PeriodReopened(**_CLOSED.model_dump(exclude={"type"}))), PeriodReopened),
    "ControlTotalsSubmitted.v1": (period_subject(_CONTROL), ControlTotalsSubmitted),
}
PERIOD_VALUES = {"province": "15", "map": "legacy", "period": "2024-Q2", "closing": "1",
                 "key": _CONTROL.key()}
VALUES = {"map": "legacy", "province": "15", "campaign": "dan-van-kheo",
          "activity_id": str(ACTIVITY), "correction_id": str(CORRECTION), "seq": "42"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def test_the_committed_document_is_the_generated_one() -> None:
    assert COMMITTED.exists(), f"docs/asyncapi.json is missing: generate it with {REGENERATE}"
    assert COMMITTED.read_text(encoding="utf-8") == asyncapi_json(), (
        f"docs/asyncapi.json differs from the code (contracts, subjects or "
        f"cungdan_service.asyncapi changed): regenerate it with {REGENERATE} and commit it")


def test_generation_is_deterministic_across_processes() -> None:
    """Sorted keys, no timestamps, no dependence on hash seeds or the machine."""
    outputs = {subprocess.run(
        [sys.executable, "-m", "cungdan_service.asyncapi", "-"], capture_output=True,
        check=True, env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT).stdout.decode()
        for seed in ("1", "2")}
    assert outputs == {asyncapi_json()}
    text = asyncapi_json()
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" \
        == text
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", text), "a timestamp in the document"


def test_it_is_asyncapi_3_with_the_events_on_their_subjects(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == {*EVENT_CHANNELS, *PERIOD_CHANNELS, "DeadLetter"}
    for key, (subject, _) in PERIOD_CHANNELS.items():
        assert document["channels"][key]["address"].format(**PERIOD_VALUES) == subject, key
        assert document["operations"][key]["action"] == "send"
    for key, (subject, _) in EVENT_CHANNELS.items():
        address = document["channels"][key]["address"]
        assert address.format(**VALUES) == subject, key
        address_of = parse(subject)
        assert address_of is not None
        assert address_of.layout == (1 if key.endswith(".layout1") else 2), key
        assert document["operations"][key]["action"] == "send"
    assert document["channels"]["DeadLetter"]["address"].format(**VALUES) \
        == "cungdan.deadletter.activity.42"


def test_the_payloads_are_the_contracts_models(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for key, (_, model) in EVENT_CHANNELS.items():
        [ref] = document["channels"][key]["messages"].values()
        message = _resolve(document, ref["$ref"])
        assert message["contentType"] == "application/json"
        assert message["payload"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        schema = schemas[model.__name__]
        expected = model.model_json_schema()
        assert schema["properties"].keys() == expected["properties"].keys(), key
        assert schema["required"] == expected["required"], key
        headers = message["headers"]["properties"]
        kind, version = key.removesuffix(".layout1").split(".v")
        assert headers["Cungdan-Type"]["const"] == kind
        assert headers["Cungdan-Version"]["const"] == version
        assert "correlationId" not in message  # ingest sets none


def test_every_parameter_is_declared_from_the_code(document: dict[str, Any]) -> None:
    for key, channel in document["channels"].items():
        assert set(re.findall(r"\{(\w+)\}", channel["address"])) \
            == set(channel["parameters"]), key
        for parameter in channel["parameters"].values():
            assert parameter["description"]
    parameters = document["channels"]["ActivityLogged.v2"]["parameters"]
    assert parameters["map"]["enum"] == [m.value for m in AdminMap]
    assert parameters["campaign"]["enum"] == list(CAMPAIGNS)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(document))
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_it_explains_both_layouts_and_the_wildcard(document: dict[str, Any]) -> None:
    description = document["info"]["description"]
    assert "cungdan.activity.<activity id>.logged.<map>.<province>.<campaign>" in description
    assert "cungdan.activity.<version>.logged.<map>.<province>.<campaign>" in description
    assert "wildcard at the token after `cungdan.activity`" in description
    assert "decode_event" in description and "_INBOX.reader" in description
    for key in EVENT_CHANNELS:
        assert "wildcard" in document["channels"][key]["description"], key


async def test_both_services_serve_it(tmp_path: Path) -> None:
    apps = {
        "ingest": create_ingest(IngestSettings(), registry=CollectorRegistry()),
        "projector": create_projector(
            ProjectorSettings(database_url=f"sqlite:///{tmp_path / 'rm.sqlite3'}"),
            registry=CollectorRegistry()),
    }
    for name, app in apps.items():
        # No lifespan: no broker is needed to serve the document.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            response = await client.get("/asyncapi.json")
            page = await client.get("/asyncapi")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == "application/json", name
        assert response.text == asyncapi_json(), name
        assert page.status_code == 200, name
        assert page.headers["content-type"].startswith("text/html"), name
        assert "cungdan activity events" in page.text, name
    assert "AsyncApiStandalone" in asyncapi_html()


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("%7B", "{").replace("%7D", "}").replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node
