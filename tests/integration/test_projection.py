"""The projector's stream consumption against a real nats-server and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from tests.factories import event

from cungdan.processes import NatsServer
from cungdan_contracts import AdminMap, encode_event, load_gazetteer
from cungdan_contracts.subjects import STREAM, STREAM_SUBJECTS, logged_subject
from cungdan_ingest.journal import ensure_stream, stream_config
from cungdan_projector.consumer import Projection
from cungdan_projector.store import ReadModelStore, TotalsFilter, make_engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    await ensure_stream(client, stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1))
    yield client
    with contextlib.suppress(ConnectionError):
        await client.close()


@pytest.fixture
def store(tmp_path: Path) -> ReadModelStore:
    s = ReadModelStore(make_engine(f"sqlite:///{tmp_path / 'rm.sqlite3'}"))
    s.create_schema()
    return s


async def publish(nc: Client, **overrides: object) -> int:
    ev = event(**overrides)
    subject = logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id)
    ack = await nc.jetstream().publish(subject, encode_event(ev))
    return ack.seq


async def project_until(nc: Client, store: ReadModelStore, seq: int,
                        batch_max: int = 100) -> Projection:
    projection = Projection(nc, store, load_gazetteer(), batch_max=batch_max, queue_max=1000,
                            retry_max_seconds=1.0)
    await projection.start()
    for _ in range(200):
        if projection.position >= seq:
            return projection
        await asyncio.sleep(0.05)
    await projection.stop()
    raise AssertionError(f"projection stuck at {projection.position}, expected {seq}")


def trees(store: ReadModelStore, locality: str = "VN") -> int:
    sums = store.totals(AdminMap.LEGACY.value, [locality], TotalsFilter())[1][locality]
    return sums.get("trees_planted", 0)


async def test_events_are_projected_in_batches_and_resume_after_restart(
    nc: Client, store: ReadModelStore
) -> None:
    last = 0
    for _ in range(250):
        last = await publish(nc, measures={"trees_planted": 2})
    projection = await project_until(nc, store, last, batch_max=64)
    await projection.stop()
    assert trees(store) == 500
    assert projection.applied_total == 250
    for _ in range(10):
        last = await publish(nc, measures={"trees_planted": 1})
    restarted = await project_until(nc, store, last)
    await restarted.stop()
    assert restarted.applied_total == 10  # resumed after the stored position, nothing re-read
    assert trees(store) == 510


async def test_an_id_published_twice_outside_ingest_counts_once(
    nc: Client, store: ReadModelStore
) -> None:
    ev = event(measures={"trees_planted": 3})
    await nc.jetstream().publish(
        logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id), encode_event(ev))
    # A buggy producer re-publishes the same event under another subject, without msg id.
    seq = (await nc.jetstream().publish(
        logged_subject(ev.map, "VN", "dan-van-kheo", ev.id), encode_event(ev))).seq
    projection = await project_until(nc, store, seq)
    await projection.stop()
    assert trees(store) == 3


async def test_poison_messages_do_not_stop_the_projection(
    nc: Client, store: ReadModelStore
) -> None:
    await publish(nc, measures={"trees_planted": 4})
    js = nc.jetstream()
    await js.publish("cungdan.activity.v1.logged.legacy.15.x.not-json", b"{not json")
    await js.publish("cungdan.activity.v1.logged.legacy.15.x.invalid", b'{"type": "Other"}')
    last = await publish(nc, measures={"trees_planted": 6})
    projection = await project_until(nc, store, last)
    await projection.stop()
    assert trees(store) == 10
    with store.engine.connect() as conn:
        skipped = conn.exec_driver_sql("SELECT seq FROM skipped_events ORDER BY seq").scalars()
        assert list(skipped) == [2, 3]
