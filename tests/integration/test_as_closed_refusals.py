"""The refusals of the figures as closed are one answer, by ``GET /v1/totals?as_closed``
and by the committee page (and its exports): no period, the nation, a closing that
never was; on SQLite, with no broker (the reads need none)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from cungdan_projector.app import create_app
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.settings import ProjectorSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ProjectorSettings(database_url=f"sqlite:///{tmp_path / 'rm.sqlite3'}"),
                     registry=CollectorRegistry())
    app.state.model.create_schema()
    app.state.model.create_generation(PROJECTION_VERSION, active=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://projector") as client:
        yield client
    app.state.model.engine.dispose()


@pytest.mark.parametrize(("code", "query", "status", "kind", "field", "detail"), [
    ("15", "", 422, "invalid-query", "period", "period: give the closed period"),
    ("VN", "&period=2023", 422, "invalid-query", "as_closed",
     "as_closed reads a province or a locality below it"),
    ("04495", "&period=2023-Q2", 404, "not-closed", "period",
     "period 2023-Q2 of province 15 (legacy map) has no closing"),
    ("15", "&period=2023-Q2&closing=9", 404, "not-closed", "closing",
     "period 2023-Q2 of province 15 (legacy map) has no closing 9"),
])
async def test_the_api_and_the_page_refuse_alike(
        client: httpx.AsyncClient, code: str, query: str, status: int, kind: str, field: str,
        detail: str) -> None:
    asked = f"?map=legacy&as_closed=true{query}"
    answers = [await client.get(path + asked) for path in (
        f"/v1/totals/{code}", f"/ui/{code}", f"/ui/{code}/totals.csv")]
    for answer in answers:
        assert answer.status_code == status, answer.text
        assert answer.headers["Content-Type"] == "application/problem+json"
    body = answers[0].json()
    assert (body["type"], body["detail"]) == (f"urn:cungdan:problem:{kind}", detail)
    assert body["errors"][0]["field"] == field
    assert answers[1].json() == answers[2].json() == body
