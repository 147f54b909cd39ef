"""Several projector instances on one PostgreSQL read model (a real cluster, a real
nats-server): one holds the lease and applies, all serve reads, a standby takes over when
the holder goes, and a former holder's writes are fenced off, its writer child's too.

The SIGKILL of a whole projector process is tests/fault/test_projector_takeover.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from tests.integration.test_projection import eventually, publish_many, trees
from tests.kits.postgres import PostgresCluster

from cungdan.processes import NatsServer
from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_projector.app import create_app
from cungdan_projector.deadletters import DeadLetterPublisher
from cungdan_projector.engine import make_engine
from cungdan_projector.fence import FencedOffError, fenced_url
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Logged, Origin
from cungdan_projector.lease import AdvisoryLease, SoleLease
from cungdan_projector.reads import TotalsFilter
from cungdan_projector.rollup import PROJECTION_VERSION, Facts
from cungdan_projector.runtime import ProjectorRuntime
from cungdan_projector.settings import ProjectorSettings
from cungdan_projector.writer import ProcessWriter, WriterUnavailableError, is_transient

pytest_plugins = ["tests.integration.projection_fixtures"]  # nc
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

COMMUNE = "04495"


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database on the session's cluster (its SQLAlchemy URL), with the schema."""
    name = f"lease_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_cluster.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_cluster.dsn.rsplit("/", 1)[0] + f"/{name}"
    model = ReadModel(make_engine(url))
    model.create_schema()
    model.engine.dispose()
    yield url
    with psycopg.connect(postgres_cluster.conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def model(pg_url: str) -> Iterator[ReadModel]:
    """The read model as readers see it."""
    m = ReadModel(make_engine(pg_url))
    yield m
    m.engine.dispose()


@pytest.fixture
async def leases(model: ReadModel) -> AsyncIterator[dict[str, AdvisoryLease]]:
    """Two instances' leases on the read model, ``a`` and ``b``; released at the end."""
    made = {name: AdvisoryLease.of(model.engine, name, interval=0.1) for name in "ab"}
    yield made
    for lease in made.values():
        await lease.release()


def activities(first_seq: int, count: int) -> list[Logged]:
    """``count`` new activities in one commune, one house built each."""
    path = load_gazetteer().ancestors(AdminMap.LEGACY, COMMUNE)
    recorded = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return [Logged(seq, str(uuid.uuid4()),
                   Facts(AdminMap.LEGACY, path, "dan-van-kheo", dt.date(2023, 5, 6),
                         {"houses_built": 1}),
                   Origin(AdminMap.LEGACY.value, path[-2], "dan-van-kheo", recorded))
            for seq in range(first_seq, first_seq + count)]


def houses(model: ReadModel) -> tuple[int, int]:
    """(position, houses built in the nation) of the active generation."""
    position, sums = model.totals(AdminMap.LEGACY.value, ["VN"], TotalsFilter())
    return position, sums["VN"].get("houses_built", 0)


def cut_lease_session(model: ReadModel, instance: str) -> int:
    """Terminate ``instance``'s lease connection, as its death would close it."""
    with model.engine.connect() as conn:
        return len(conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name"), {"name": f"cungdan-projector lease {instance}"}
        ).all())


async def test_one_instance_holds_the_lease_and_another_takes_it_when_its_session_dies(
        model: ReadModel, leases: dict[str, AdvisoryLease]) -> None:
    a, b = leases["a"], leases["b"]
    assert await a.try_acquire() and a.epoch == 1
    assert not await b.try_acquire() and b.epoch is None
    holder = a.holder(model.engine)
    assert holder is not None and (holder.name, holder.epoch, holder.holding) == ("a", 1, True)

    assert cut_lease_session(model, "a") == 1
    why = await asyncio.wait_for(a.lost(), 5)
    assert "connection failed" in why and a.epoch == 1  # until the caller stops applying
    await a.release()
    assert a.epoch is None
    holder = a.holder(model.engine)
    assert holder is not None and not holder.holding  # freed with the session
    assert await b.try_acquire() and b.epoch == 2
    holder = b.holder(model.engine)
    assert holder is not None and (holder.name, holder.epoch, holder.holding) == ("b", 2, True)

    await b.release()
    assert await a.try_acquire() and a.epoch == 3


async def test_a_former_holders_writes_are_fenced_off_once_the_lease_is_taken(
        pg_url: str, model: ReadModel, leases: dict[str, AdvisoryLease]) -> None:
    a, b = leases["a"], leases["b"]
    assert await a.try_acquire()
    old = ReadModel(make_engine(fenced_url(pg_url, 1)))
    store = old.create_generation(PROJECTION_VERSION, active=True)
    assert store.apply(activities(1, 10)).applied == 10

    # a transaction that passed the fence before the takeover ends first: the new epoch
    # waits for it (its share lock on the lease row), then nothing of epoch 1 commits
    in_flight = old.engine.connect()
    in_flight.begin()
    cut_lease_session(model, "a")
    taking = asyncio.create_task(b.try_acquire())
    await asyncio.sleep(0.5)
    assert not taking.done()
    in_flight.commit()
    in_flight.close()
    assert await asyncio.wait_for(taking, 10) and b.epoch == 2

    with pytest.raises(FencedOffError) as refused:
        store.apply(activities(11, 5))
    assert is_transient(refused.value)  # retried by a projection, never dead-lettered
    zombie = ProcessWriter(fenced_url(pg_url, 1))  # a writer child outliving its service
    try:
        with pytest.raises(WriterUnavailableError, match="FencedOffError"):
            await zombie.apply(store, activities(11, 5))
    finally:
        await zombie.close()
    with pytest.raises(FencedOffError):
        old.activate(store.number)
    assert houses(model) == (10, 10)

    new = ReadModel(make_engine(fenced_url(pg_url, 2)))
    assert new.generation(store.number).apply(activities(11, 5)).applied == 5
    assert houses(model) == (15, 15)
    old.engine.dispose()
    new.engine.dispose()


async def test_with_sqlite_the_one_instance_applies(nc: Client, tmp_path: Path) -> None:
    model = ReadModel(make_engine(f"sqlite:///{tmp_path / 'rm.sqlite3'}"))
    model.create_schema()
    runtime = ProjectorRuntime(nc, model, load_gazetteer(), DeadLetterPublisher(nc),
                               ProjectorSettings(instance_name="solo", writer="thread"))
    assert isinstance(runtime.lease, SoleLease)
    await runtime.start()
    try:
        assert (runtime.applying, runtime.role, runtime.instance) == (True, "applying", "solo")
        holder = await runtime.holder()
        assert holder is not None and (holder.name, holder.holding) == ("solo", True)
    finally:
        await runtime.stop()


@pytest.fixture
async def instances(nats_server: NatsServer, pg_url: str, nc: Client
                    ) -> AsyncIterator[dict[str, tuple[FastAPI, httpx.AsyncClient]]]:
    """Two projector apps, ``a`` then ``b``, on one read model and stream, each with its
    lifespan running and an HTTP client; ``a`` (started first) applies."""
    async with AsyncExitStack() as stack:
        made: dict[str, tuple[FastAPI, httpx.AsyncClient]] = {}
        for name in "ab":
            settings = ProjectorSettings(nats_url=nats_server.url, database_url=pg_url,
                                         instance_name=name, lease_interval_seconds=0.2,
                                         writer="thread", batch_max=50)
            app = create_app(settings, load_gazetteer(), CollectorRegistry())
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}"))
            made[name] = (app, client)
        yield made


def runtime_of(app: FastAPI) -> ProjectorRuntime:
    runtime: ProjectorRuntime = app.state.runtime
    return runtime


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    return next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith(f"{name} "))


async def test_one_instance_applies_every_instance_serves_and_a_standby_takes_over(
        nc: Client,
        instances: dict[str, tuple[FastAPI, httpx.AsyncClient]]) -> None:
    (a_app, a), (b_app, b) = instances["a"], instances["b"]
    ready_a, ready_b = (await a.get("/readyz")).json(), (await b.get("/readyz")).json()
    assert ready_a == {"status": "ready", "instance": "a", "role": "applying",
                       "applying_instance": "a"}
    assert ready_b == {"status": "ready", "instance": "b", "role": "standby",
                       "applying_instance": "a"}
    assert (await metric(a, "cungdan_projector_applying"),
            await metric(b, "cungdan_projector_applying")) == (1.0, 0.0)

    last = await publish_many(nc, 120, measures={"trees_planted": 1})
    # read-your-writes on the standby: it waits for the holder's commits in the database
    answer = await b.get("/v1/totals/VN", params={"map": "legacy", "min_seq": last})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["position"], answer.json()["totals"]["trees_planted"]) == (last, "120")
    not_yet = await b.get("/v1/totals/VN", params={"map": "legacy", "min_seq": last + 1})
    assert (not_yet.status_code, not_yet.json()["position"]) == (503, last)
    status = (await b.get("/v1/status")).json()
    assert (status["role"], status["position"], status["applying_instance"]) == (
        "standby", last, "a")

    # operations that change the read model: only the holder takes them
    for path in ("/v1/rebuild", "/v1/deadletters/redrive"):
        refused = await b.post(path)
        assert refused.status_code == 421, (path, refused.text)
        assert refused.json()["applying_instance"] == "a"
        assert refused.json()["type"] == "urn:cungdan:problem:not-applying"
    assert (await b.get("/v1/rebuild")).json() == {"state": "idle"}
    assert (await b.get("/v1/deadletters")).json() == {"dead_letters": []}

    # the holder goes (stops): the standby takes over from the committed position
    await runtime_of(a_app).stop()
    await eventually(lambda: runtime_of(b_app).applying, "b to take over", seconds=5)
    more = await publish_many(nc, 30, measures={"trees_planted": 1})
    answer = await b.get("/v1/totals/VN", params={"map": "legacy", "min_seq": more})
    assert answer.json()["totals"]["trees_planted"] == "150"
    assert (await b.get("/readyz")).json()["role"] == "applying"
    assert await metric(b, "cungdan_projector_lease_acquired_total") == 1.0


async def test_a_holder_cut_off_from_its_lease_steps_down_and_one_instance_applies(
        nc: Client, model: ReadModel,
        instances: dict[str, tuple[FastAPI, httpx.AsyncClient]]) -> None:
    runtimes = {name: runtime_of(app) for name, (app, _) in instances.items()}
    await publish_many(nc, 40, measures={"trees_planted": 1})
    await eventually(lambda: model.active() is not None and trees(model) == 40,
                     "the first events")

    unfenced: set[str] = set()  # applying without an epoch: stepping down in the wrong order

    def applying() -> list[ProjectorRuntime]:
        unfenced.update(name for name, r in runtimes.items()
                        if r.applying and r.lease.epoch is None)
        return [r for r in runtimes.values() if r.applying]

    a = runtimes["a"]
    assert isinstance(a.lease, AdvisoryLease)
    drop = a.lease._drop
    dropped_while_applying: list[bool] = []

    async def recorded_drop() -> None:  # the lease goes only once a stopped applying
        dropped_while_applying.append(a.applying)
        await drop()

    a.lease._drop = recorded_drop  # type: ignore[method-assign]
    assert cut_lease_session(model, "a") == 1  # a's process lives on: it must notice
    await eventually(lambda: a not in applying() or a.lease.epoch != 1,
                     "a to step down", seconds=5)
    await eventually(lambda: len(applying()) == 1, "one instance to apply again", seconds=5)
    [holder] = applying()
    assert holder.lease.epoch is not None and holder.lease.epoch >= 2
    assert not unfenced and dropped_while_applying and not any(dropped_while_applying)
    last = await publish_many(nc, 40, measures={"trees_planted": 1})
    for _, client in instances.values():
        answer = await client.get("/v1/totals/VN", params={"map": "legacy", "min_seq": last})
        assert answer.json()["totals"]["trees_planted"] == "80", answer.text

