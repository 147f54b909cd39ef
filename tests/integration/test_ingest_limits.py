"""Input limits of the ingest on the real processes: body size (413), the per-token rate
limit (429 with Retry-After), batch size and the contract's own bounds (422); each a
problem+json, each counted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.factories import report_v2 as report

from cungdan.processes import free_port
from cungdan.stack import Stack, StackConfig
from cungdan.token_commands import issue
from cungdan_ingest.settings import IngestSettings
from cungdan_service.tokens import TokenFile

pytestmark = pytest.mark.integration

BODY_MAX, BATCH_BODY_MAX, BATCH_MAX, BURST = 8192, 65536, 50, 8


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    tokens = TokenFile(tmp_path_factory.mktemp("auth") / "tokens.json")
    secrets = {name: issue(tokens, name, ("VN",), ("report",)).secret
               for name in ("steady", "eager", "bulky", "bounds")}
    config = StackConfig(
        data_dir=tmp_path_factory.mktemp("stack"), nats_port=free_port(),
        nats_http_port=free_port(), ingest_port=free_port(), projector_port=free_port(),
        tokens_file=tokens.path, extra_env={
            "CUNGDAN_MAX_BODY_BYTES": str(BODY_MAX),
            "CUNGDAN_MAX_BATCH_BODY_BYTES": str(BATCH_BODY_MAX),
            "CUNGDAN_MAX_BATCH": str(BATCH_MAX),
            "CUNGDAN_RATE_LIMIT_PER_SECOND": "0.5", "CUNGDAN_RATE_LIMIT_BURST": str(BURST)})
    with Stack(config) as stack:
        yield stack, secrets


def _client(setup: tuple[Stack, dict[str, str]], token: str) -> httpx.Client:
    stack, secrets = setup
    return httpx.Client(base_url=stack.ingest_url, trust_env=False, timeout=10,
                        headers={"Authorization": f"Bearer {secrets[token]}"})


def _refusals(stack: Stack) -> dict[tuple[str, str], float]:
    text = httpx.get(stack.ingest_url + "/metrics", trust_env=False).text
    return {(s.labels["token"], s.labels["reason"]): s.value
            for family in text_string_to_metric_families(text)
            if family.name == "cungdan_ingest_refusals" for s in family.samples
            if s.name.endswith("_total")}


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:cungdan:problem:{kind}" and body["detail"]
    return body


def test_the_defaults_are_those_of_the_issue() -> None:
    defaults = IngestSettings()
    assert (defaults.max_body_bytes, defaults.max_batch_body_bytes, defaults.max_batch) == (
        2 * 1024 * 1024, 8 * 1024 * 1024, 1000)
    assert defaults.auth_enabled is False


def test_bodies_over_the_limit_are_413_declared_or_streamed(
    setup: tuple[Stack, dict[str, str]]
) -> None:
    stack, _ = setup
    big = b'{"note": "' + b"x" * BODY_MAX + b'"}'
    with _client(setup, "bulky") as client:
        _problem(client.post("/v1/activities", content=big,
                             headers={"content-type": "application/json"}), 413, "body-too-large")
        chunks = (big[i:i + 1000] for i in range(0, len(big), 1000))  # no Content-Length
        _problem(client.post("/v1/activities", content=chunks,
                             headers={"content-type": "application/json"}), 413, "body-too-large")
        batch = [report(id=str(uuid.uuid4()), note="n" * 1900) for _ in range(BATCH_MAX)]
        _problem(client.post("/v1/activities/batch", json=batch), 413, "body-too-large")
        fits = client.post("/v1/activities/batch", json=batch[:10])
        assert fits.status_code == 200, fits.text
    assert _refusals(stack)[("bulky", "body-too-large")] == 3


def test_a_token_over_its_rate_gets_429_with_retry_after(
    setup: tuple[Stack, dict[str, str]]
) -> None:
    stack, _ = setup
    with _client(setup, "eager") as eager, _client(setup, "steady") as steady:
        statuses = [eager.post("/v1/activities", json=report()).status_code
                    for _ in range(BURST + 2)]
        assert statuses == [202] * BURST + [429, 429]
        refused = eager.post("/v1/activities", json=report())
        body = _problem(refused, 429, "rate-limited")
        assert int(refused.headers["retry-after"]) >= 1
        assert "token 'eager'" in body["detail"]
        assert steady.post("/v1/activities", json=report()).status_code == 202
    assert _refusals(stack)[("eager", "rate-limited")] == 3


@pytest.mark.parametrize(("change", "field"), [
    ({"note": "x" * 2001}, "note"),
    ({"measures": {"road_km": "1000000000000001"}}, "measures.road_km"),
    ({"measures": {"road_km": "-1"}}, "measures.road_km"),
    ({"measures": {}}, "measures"),
    ({"locality": "1" * 300}, "locality"),
])
def test_the_contract_bounds_are_422_naming_the_field(
    setup: tuple[Stack, dict[str, str]], change: dict[str, Any], field: str
) -> None:
    with _client(setup, "bounds") as client:
        body = _problem(client.post("/v1/activities", json=report(**change)), 422,
                        "invalid-report")
    assert [e["field"] for e in body["errors"]] == [field]


def test_batch_size_is_bounded(setup: tuple[Stack, dict[str, str]]) -> None:
    with _client(setup, "steady") as client:
        body = _problem(client.post("/v1/activities/batch",
                                    json=[report() for _ in range(BATCH_MAX + 1)]),
                        422, "invalid-batch")
    assert f"1 to {BATCH_MAX}" in body["detail"]
