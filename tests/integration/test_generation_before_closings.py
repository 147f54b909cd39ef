"""A generation made before closings (projection version below ``CLOSINGS_VERSION``, as
it serves while its rebuild runs), on SQLite and PostgreSQL: it has none of the tables of
closings, skips period events while its position still advances, and the reads of
closings answer ``503 not-yet`` (the live totals and page still answer)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from tests.integration.both_stores import read_model

from cungdan_contracts import INDICATORS, AdminMap
from cungdan_projector import closing_reads
from cungdan_projector.app import create_app
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Logged, Origin, PeriodMark
from cungdan_projector.reads import Part, TotalsFilter
from cungdan_projector.rollup import Facts
from cungdan_projector.schema import CLOSINGS_VERSION
from cungdan_projector.settings import ProjectorSettings
from cungdan_projector.store import GenerationStore

pytestmark = pytest.mark.integration

AT = dt.datetime(2023, 7, 2, tzinfo=dt.UTC)
PROVINCE, PERIOD = "15", "2023-Q2"
ORIGIN = Origin("legacy", PROVINCE, "dan-van-kheo", AT)
ROAD = list(INDICATORS).index("road_km")

model = pytest.fixture(name="model")(read_model)


@pytest.fixture
def old(model: ReadModel) -> GenerationStore:
    """The active generation, of the version before closings and without their tables."""
    store = model.create_generation(CLOSINGS_VERSION - 1, active=True)
    t = store.tables
    with model.writing() as conn:
        for table in (t.late_amendments, t.control_totals, t.closing_totals, t.closings):
            table.drop(conn)
    return store


def logged(seq: int) -> Logged:
    """1 km of road in Nậm Khắt (04495), Mù Cang Chải (137), Yên Bái (15), in 2023-Q2."""
    return Logged(seq, f"a{seq}", Facts(AdminMap.LEGACY, ("04495", "137", PROVINCE, "VN"),
                                        "dan-van-kheo", dt.date(2023, 5, 6), {"road_km": 1000}),
                  ORIGIN)


def mark(seq: int, kind: str = "closed") -> PeriodMark:
    return PeriodMark(seq, kind, "legacy", PROVINCE, PERIOD, 1, AT, "approver", "sent")


def test_period_events_are_skipped_and_the_position_still_advances(
        model: ReadModel, old: GenerationStore) -> None:
    result = old.apply([logged(1), mark(2), logged(3), mark(4, "reopened")])
    assert (result.applied, result.position, result.periods) == (2, 4, ())
    assert old.position() == 4
    assert old.apply([mark(5)]).position == 5  # a batch of a period event alone
    assert old.apply([mark(5), logged(6)]).applied == 1
    position, sums = model.totals_of([Part("legacy", [PROVINCE])], TotalsFilter())
    assert position == 6 and sums[0][PROVINCE][ROAD] == 3000
    with pytest.raises(closing_reads.NoClosingsError):
        closing_reads.periods(model.engine, "legacy", PROVINCE)
    with pytest.raises(closing_reads.NoClosingsError):
        closing_reads.closed_figures(model.engine, "legacy", PROVINCE, PERIOD, None,
                                     [PROVINCE], None)
    assert closing_reads.late_amendments(model.engine, "legacy", PROVINCE, PERIOD) is None


@pytest.fixture
async def client(database_url: str, old: GenerationStore) -> AsyncIterator[httpx.AsyncClient]:
    """The projector's routes on that read model (no broker: the reads need none)."""
    old.apply([logged(1), mark(2), logged(3)])
    app = create_app(ProjectorSettings(database_url=database_url), registry=CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://projector") as client:
        yield client
    app.state.model.engine.dispose()


@pytest.mark.parametrize("path", [
    f"/v1/periods/{PROVINCE}?map=legacy",
    f"/v1/periods/{PROVINCE}/{PERIOD}?map=legacy",
    f"/v1/totals/{PROVINCE}?map=legacy&period={PERIOD}&as_closed=true",
    f"/v1/totals/04495?map=legacy&period={PERIOD}&as_closed=true&closing=1",
    f"/ui/{PROVINCE}?map=legacy&period={PERIOD}&as_closed=true",
    f"/ui/{PROVINCE}/totals.csv?map=legacy&period={PERIOD}&as_closed=true",
])
async def test_the_reads_of_closings_answer_not_yet(client: httpx.AsyncClient,
                                                    path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert (body["type"], body["title"], body["detail"]) == (
        "urn:cungdan:problem:not-yet", "Closings are not in the read model yet",
        "the read model is being rebuilt to keep closings; try again")


async def test_the_live_totals_and_page_of_the_period_still_answer(
        client: httpx.AsyncClient) -> None:
    totals = await client.get(f"/v1/totals/{PROVINCE}?map=legacy&period={PERIOD}")
    assert totals.status_code == 200, totals.text
    body = totals.json()
    assert (body["position"], body["totals"]) == (3, {"road_km": "2"})
    assert "late_amendments" not in body
    page = await client.get(f"/ui/{PROVINCE}?map=legacy&period={PERIOD}")
    assert page.status_code == 200, page.text
    assert "Đang mở" not in page.text and "Đã khóa" not in page.text  # no period status
