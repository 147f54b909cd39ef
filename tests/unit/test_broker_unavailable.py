"""The 503 every ingest route answers when the event store fails: Retry-After as set."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request

from cungdan_ingest.settings import IngestSettings
from cungdan_ingest.unavailable import broker_unavailable


def _request(retry_after: int) -> Request:
    app = FastAPI()
    app.state.settings = IngestSettings(retry_after_seconds=retry_after)
    return Request({"type": "http", "app": app, "headers": []})


def test_the_answer_names_the_failure_and_when_to_retry() -> None:
    answer = broker_unavailable(_request(7), errors=[{"field": "(broker)", "reason": "gone"}],
                                id="x")
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "7")
    assert answer.media_type == "application/problem+json"
    assert json.loads(answer.body) == {
        "type": "urn:cungdan:problem:broker-unavailable",
        "title": "The event store is unavailable", "status": 503,
        "detail": "(broker): gone", "errors": [{"field": "(broker)", "reason": "gone"}],
        "id": "x"}


def test_a_title_and_detail_of_its_own() -> None:
    answer = broker_unavailable(_request(5), title="Down; resend", detail="no quorum",
                                counts={"accepted": 0})
    assert json.loads(answer.body) == {
        "type": "urn:cungdan:problem:broker-unavailable", "title": "Down; resend",
        "status": 503, "detail": "no quorum", "counts": {"accepted": 0}}
    assert answer.headers["retry-after"] == "5"
