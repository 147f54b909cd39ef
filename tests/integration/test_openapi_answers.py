"""The answers documented in both OpenAPI documents are the answers given: each route of
ingest and the projector is called in-process (their lifespans running, on a real
nats-server and a SQLite read model), and every answer, 2xx or refusal, is validated
against the schema its route documents for that status and content type.

Every route of the documents must be called with a 2xx here: a new route fails
``test_every_route_answers_as_documented`` until a call is added to ``_ingest_calls`` or
``_projector_calls``."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import nats
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from tests.factories import report

from cungdan.processes import NatsServer
from cungdan_contracts import load_gazetteer
from cungdan_ingest.app import create_app as create_ingest
from cungdan_ingest.settings import IngestSettings
from cungdan_projector.app import create_app as create_projector
from cungdan_projector.settings import ProjectorSettings

pytestmark = pytest.mark.integration

METHODS = ("get", "put", "post", "delete", "patch")
REFORM_REPORTS = [  # as tests/e2e/test_totals_across_the_reform.py: converted, unattributed
    report(locality="04495", date="2024-03-10", measures={"road_km": "150"}),
    report(locality="137", date="2024-03-31", measures={"road_km": "0.5"}),  # district level
    report(locality="31178", date="2024-03-05", measures={"road_km": "7"}),  # split
    report(locality="04492", date="2025-09-06", measures={"road_km": "3"}),  # 2025 map
]


@dataclass
class Documented:
    """Checks answers against one service's OpenAPI document, and which were seen."""

    name: str
    document: dict[str, Any]
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def route(self, method: str, path: str) -> str:
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if method in item and re.fullmatch(pattern, path):
                return str(template)
        raise AssertionError(f"{self.name}: {method.upper()} {path} is not documented")

    def check(self, response: httpx.Response) -> Any:
        method, path = response.request.method.lower(), response.request.url.path
        template = self.route(method, path)
        where = f"{self.name} {method.upper()} {template} answered {response.status_code}"
        responses = self.document["paths"][template][method]["responses"]
        status = str(response.status_code)
        assert status in responses, f"{where}, not documented: {response.text[:300]}"
        media = response.headers["content-type"].split(";")[0]
        content = responses[status].get("content", {})
        assert media in content, f"{where} as {media}, documented as {list(content)}"
        self.seen.add((template, method, status))
        if not media.endswith("json"):  # a page: its status and media type are documented
            return response.text
        body = response.json()
        validator = jsonschema_rs.Draft202012Validator(
            {**content[media]["schema"], "components": self.document["components"]})
        errors = [str(e) for e in validator.iter_errors(body)]
        assert not errors, f"{where}: {json.dumps(body)[:500]}\n" + "\n".join(errors)
        return body

    def unseen_2xx(self) -> list[str]:
        return [f"{method.upper()} {path}" for path, item in self.document["paths"].items()
                for method in item if method in METHODS
                if not any(p == path and m == method and s.startswith("2")
                           for p, m, s in self.seen)]


@dataclass
class Services:
    ingest: httpx.AsyncClient
    projector: httpx.AsyncClient
    documents: dict[str, Documented]
    nats_url: str


async def _until(check: Callable[[], Awaitable[Any]], what: str, within: float = 30) -> None:
    """Poll ``check`` (an HTTP call) until it answers something true; fail naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def services(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Services]:
    ingest = create_ingest(IngestSettings(nats_url=nats_server.url, max_body_bytes=4096),
                           registry=CollectorRegistry())
    projector = create_projector(
        ProjectorSettings(nats_url=nats_server.url, writer="thread", read_wait_seconds=0.2,
                          database_url=f"sqlite:///{tmp_path / 'rm.sqlite3'}"),
        load_gazetteer(), CollectorRegistry())
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name, app in (("ingest", ingest), ("projector", projector)):
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}",
                timeout=30))
        yield Services(clients["ingest"], clients["projector"],
                       {"ingest": _documented("ingest", ingest),
                        "projector": _documented("projector", projector)},
                       nats_server.url)


def _documented(name: str, app: FastAPI) -> Documented:
    return Documented(name, app.openapi())


async def _ingest_calls(client: httpx.AsyncClient, documented: Documented) -> int:
    """Every ingest route, accepting and refusing; the last stream sequence stored."""
    async def call(method: str, url: str, **options: Any) -> Any:
        return documented.check(await client.request(method, url, **options))

    first = report()
    assert (await call("POST", "/v1/activities", json=first))["status"] == "accepted"
    assert (await call("POST", "/v1/activities", json=first))["status"] == "duplicate"
    other = {**first, "measures": {"road_km": "9"}}
    assert (await call("POST", "/v1/activities", json=other))["status"] == 409
    assert (await call("POST", "/v1/activities", json=report(campaign="nope")))["errors"]
    await call("POST", "/v1/activities", content=b"{" + b" " * 5000 + b"}")  # 413
    await call("POST", "/v1/activities", content=b"{not json")  # 422
    batch = await call("POST", "/v1/activities/batch",
                       json=[*REFORM_REPORTS, first, report(locality="99999")])
    assert batch["counts"] == {"accepted": 4, "duplicate": 1, "rejected": 1, "unavailable": 0}
    await call("POST", "/v1/activities/batch", json={"not": "a list"})  # 422

    change = {"id": str(uuid.uuid4()), "measures": {"road_km": "2"}, "reason": "đo lại"}
    corrections = f"/v1/activities/{first['id']}/corrections"
    assert (await call("POST", corrections, json=change))["status"] == "accepted"
    assert (await call("POST", corrections, json=change))["status"] == "duplicate"
    await call("POST", f"/v1/activities/{uuid.uuid4()}/corrections", json=change)  # 404
    await call("POST", "/v1/activities/not-a-uuid/corrections", json=change)  # 422
    gone = batch["results"][0]["id"]
    retracted = await call("POST", f"/v1/activities/{gone}/retraction",
                           json={"reason": "báo trùng"})
    await call("POST", f"/v1/activities/{gone}/retraction", json={"reason": "khác"})  # 409
    await call("POST", f"/v1/activities/{gone}/corrections",
               json={**change, "id": str(uuid.uuid4())})  # 409

    history = await call("GET", f"/v1/activities/{first['id']}")
    assert [e["type"] for e in history["history"]] == ["ActivityLogged", "ActivityCorrected"]
    assert (await call("GET", f"/v1/activities/{gone}"))["status"] == "retracted"
    await call("GET", f"/v1/activities/{uuid.uuid4()}")  # 404
    await call("GET", "/v1/activities/42")  # 422
    await _import_calls(call)
    closed_last = await _period_calls(call)
    seq: int = retracted["seq"]
    return max(seq, closed_last)


PERIOD = "/v1/periods/01/2022"
"""A legacy province and year (Hà Nội, 2022) that no other call reports into."""


async def _period_calls(call: Callable[..., Awaitable[Any]]) -> int:
    """Close, refuse a report into the closed period, reopen, amend late, close again and
    submit control totals (authentication is off: no token); the last stream sequence."""
    def hanoi(date: str, road_km: str) -> dict[str, Any]:
        return report(locality="00001", date=date, measures={"road_km": road_km})

    assert (await call("POST", "/v1/activities", json=hanoi("2022-03-01", "4")))["seq"]
    why = {"reason": "đã rà soát"}
    closed = await call("POST", f"{PERIOD}/close", json=why)
    assert (closed["status"], closed["closing"]) == ("accepted", 1)
    assert (await call("POST", f"{PERIOD}/close", json=why))["status"] == "duplicate"
    late = await call("POST", "/v1/activities", json=hanoi("2022-05-01", "1"))
    assert late["type"] == "urn:cungdan:problem:period-closed", late  # 409
    batch = await call("POST", "/v1/activities/batch", json=[hanoi("2022-05-01", "1")])
    assert (batch["results"][0]["reason"], batch["results"][0]["closing"]["seq"]) == (
        "period-closed", closed["seq"]), batch
    await call("POST", f"{PERIOD}/close", json={"reason": "lần nữa"})  # 409 period-closed
    await call("POST", "/v1/periods/01/2022-Q2/reopen", json=why)  # 409 period-open
    await call("POST", "/v1/periods/01/2022-13/close", json=why)  # 422
    await call("POST", f"{PERIOD}/close", json={"reason": ""})  # 422
    assert (await call("POST", f"{PERIOD}/reopen", json={"reason": "sót xã"}))["status"] \
        == "accepted"
    assert (await call("POST", "/v1/activities", json=hanoi("2022-05-01", "2")))["seq"]
    assert (await call("POST", f"{PERIOD}/close", json=why))["closing"] == 2
    control = {"campaign": "ngay-cuoi-tuan-cung-dan", "measures": {"road_km": "7"}}
    submitted = await call("POST", f"{PERIOD}/control-totals", json=control)
    assert submitted["status"] == "accepted"
    history = await call("GET", f"{PERIOD}/history")
    assert [e["type"] for e in history["history"]] == [
        "PeriodClosed", "PeriodReopened", "PeriodClosed", "ControlTotalsSubmitted"]
    await call("GET", "/v1/periods/01/2022-13/history")  # 422
    last: int = submitted["seq"]
    return last


async def _import_calls(call: Callable[..., Awaitable[Any]]) -> None:
    """The spreadsheet import, as a dry run (the stream stays as the totals expect)."""
    assert (await call("GET", "/v1/imports/template.csv")).startswith("id,")
    await call("GET", "/v1/imports/template.xlsx")
    sheet = ("campaign,locality,date,unit,road_km\r\n"
             "ngay-cuoi-tuan-cung-dan,04495,2023-05-06,Ban CHQS huyện,2\r\n"
             "ngay-cuoi-tuan-cung-dan,99999,2023-05-06,Ban CHQS huyện,2\r\n")
    summary = await call("POST", "/v1/imports", params={"dry_run": "true"},
                         content=sheet.encode(), headers={"content-type": "text/csv"})
    assert (summary["counts"]["accepted"], summary["counts"]["rejected"]) == (1, 1), summary
    await call("POST", "/v1/imports", content=b"%PDF-1.4",
               headers={"content-type": "application/pdf"})  # 415
    await call("POST", "/v1/imports", content=b"", headers={"content-type": "text/csv"})  # 422


async def _projector_calls(client: httpx.AsyncClient, documented: Documented,
                           last: int, nats_url: str) -> None:
    async def call(method: str, url: str, **options: Any) -> Any:
        return documented.check(await client.request(method, url, **options))

    legacy = await call("GET", "/v1/totals/VN", params={"map": "legacy", "min_seq": last})
    assert legacy["position"] >= last
    lao_cai = await call("GET", "/v1/totals/15", params={"map": "2025"})
    assert any(c.get("unattributed") for c in lao_cai["children"]), lao_cai
    await call("GET", "/v1/totals/92", params={"map": "2025"})  # a split commune
    await call("GET", "/v1/totals/15", params={"map": "2025", "basis": "reported",
                                               "period": "2025"})
    await call("GET", "/v1/totals/04495", params={
        "map": "legacy", "campaign": "ngay-cuoi-tuan-cung-dan", "indicator": "road_km",
        "from": "2023-01-01", "to": "2024-12-31"})
    await call("GET", "/v1/totals/VN", params={"min_seq": last + 1000})  # 503 not yet
    await call("GET", "/v1/totals/XX")  # 404
    await call("GET", "/v1/totals/VN", params={"period": "2025-Q5"})  # 422
    await call("GET", "/v1/totals/VN", params={"map": "1999"})  # 422
    await call("GET", "/v1/localities/VN")
    await call("GET", "/v1/localities/04495", params={"map": "legacy"})
    await call("GET", "/v1/localities/XX")  # 404
    await _projector_period_calls(call)
    await _projector_page_calls(call, last)

    poison = await nats.connect(nats_url)
    try:
        await poison.jetstream().publish(
            f"cungdan.activity.{uuid.uuid4()}.logged.legacy.15.ngay-cuoi-tuan-cung-dan.v2",
            b"{not json")
    finally:
        await poison.close()

    async def dead_letters() -> list[Any]:
        letters: list[Any] = (await call("GET", "/v1/deadletters"))["dead_letters"]
        return letters

    await _until(dead_letters, "the poison message to be dead-lettered")
    redriven = await call("POST", "/v1/deadletters/redrive")
    assert [r["status"] for r in redriven["results"]] == ["still failing"]
    await call("POST", "/v1/deadletters/redrive", params={"seq": "x"})  # 422
    assert (await call("GET", "/v1/rebuild"))["state"] == "idle"
    assert (await call("POST", "/v1/rebuild"))["state"] in ("running", "done")

    async def rebuilt() -> bool:
        return bool((await call("GET", "/v1/rebuild"))["state"] == "done")

    await _until(rebuilt, "the rebuild to finish", within=60)
    status = await call("GET", "/v1/status")
    assert status["role"] == "applying" and status["freshness"]


async def _projector_page_calls(call: Callable[..., Awaitable[Any]], last: int) -> None:
    """The committee page, its files, completeness and position."""
    assert "Lào Cai" in await call("GET", "/ui/15", params={"map": "2025"})
    for table in ("totals", "children", "completeness"):
        await call("GET", f"/ui/15/{table}.csv", params={"map": "2025"})
    await call("GET", "/ui/15/children.xlsx", params={"map": "2025"})
    await call("GET", "/ui/15/nothing.csv", params={"map": "2025"})  # 404
    await call("GET", "/ui/XX")  # 404
    await call("GET", "/ui/15", params={"map": "1999"})  # 422
    done = await call("GET", "/v1/completeness/15", params={"map": "2025", "period": "2025"})
    assert done["children_count"] == len(done["children"]) > 0, done
    await call("GET", "/v1/completeness/XX")  # 404
    await call("GET", "/v1/completeness/15", params={"period": "2025-Q5"})  # 422
    assert (await call("GET", "/v1/position"))["position"] >= last


async def _projector_period_calls(call: Callable[..., Awaitable[Any]]) -> None:
    """The period closed, reopened, amended late and closed again by ``_period_calls``."""
    periods = await call("GET", "/v1/periods/01", params={"map": "legacy"})
    [year] = periods["periods"]
    assert (year["status"], len(year["closings"]), year["late_amendments"]) == ("closed", 2, 0)
    assert year["closings"][0]["reopened"]["reason"] == "sót xã"
    detail = await call("GET", PERIOD)
    [compared] = detail["comparisons"]
    assert compared["indicators"][0] == {
        "indicator": "road_km", "unit": "km", "projected": "6", "province": "7",
        "difference": "1"}, compared
    assert detail["late"] == []  # reported while reopened: no late amendment
    await call("GET", "/v1/periods/01/2021")  # never closed: no comparisons
    await call("GET", "/v1/periods/99", params={"map": "legacy"})  # 404
    await call("GET", "/v1/periods/01", params={"map": "1999"})  # 422
    await call("GET", "/v1/periods/01/2022-13")  # 422
    await call("GET", "/v1/periods/01/2022", params={"campaign": "nope"})  # 422
    totals = {"map": "legacy", "period": "2022"}
    first = await call("GET", "/v1/totals/01", params={**totals, "as_closed": "true",
                                                      "closing": 1})
    assert (first["totals"], first["closing"]["closing"]) == ({"road_km": "4"}, 1), first
    last = await call("GET", "/v1/totals/00001", params={**totals, "as_closed": "true"})
    assert last["closing"]["closing"] == 2 and last["totals"] == {"road_km": "6"}, last
    live = await call("GET", "/v1/totals/01", params=totals)
    assert "late_amendments" not in live and live["totals"] == {"road_km": "6"}, live
    await call("GET", "/v1/totals/01", params={**totals, "as_closed": "true",
                                               "closing": 9})  # 404 no such closing
    await call("GET", "/v1/totals/01", params={"map": "legacy", "as_closed": "true"})  # 422
    page = {"map": "legacy", "period": "2022"}  # the committee page of the period
    assert "Đã khóa (lần 2)" in await call("GET", "/ui/01", params=page)
    assert "khi khóa lần 1" in await call("GET", "/ui/00001", params={
        **page, "as_closed": "true", "closing": 1})
    await call("GET", "/ui/01/differences.csv", params=page)
    await call("GET", "/ui/01/differences.xlsx", params=page)
    await call("GET", "/ui/01/totals.csv", params={**page, "as_closed": "true"})
    await call("GET", "/ui/01", params={**page, "as_closed": "true", "closing": 9})  # 404
    await call("GET", "/ui/01", params={"map": "legacy", "as_closed": "true"})  # 422
    await call("GET", "/ui/VN", params={**page, "as_closed": "true"})  # 422


async def test_every_route_answers_as_documented(services: Services) -> None:
    ingest, projector = services.documents["ingest"], services.documents["projector"]
    last = await _ingest_calls(services.ingest, ingest)
    await _projector_calls(services.projector, projector, last, services.nats_url)
    for documented in (ingest, projector):
        assert not documented.unseen_2xx(), (
            f"{documented.name}: routes never answered 2xx in this test (add a call): "
            f"{documented.unseen_2xx()}")
    refusals = {s for _, _, s in ingest.seen | projector.seen if s >= "400"}
    assert refusals >= {"404", "409", "413", "422", "503"}, refusals
