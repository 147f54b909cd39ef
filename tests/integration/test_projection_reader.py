"""How the projector reads the stream (its pull consumer), against a real nats-server and
SQLite: small batches, bounded memory, a consumer deleted under it, a message lost on the
way, and the broker restarted. Every test checks that each stream sequence reached the
store exactly once and in order, and that the totals are exact."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from tests.factories import event

from cungdan.processes import NatsServer
from cungdan_contracts import AdminMap, encode_event, load_gazetteer
from cungdan_contracts.subjects import STREAM, logged_subject
from cungdan_projector.deadletters import DeadLetterPublisher
from cungdan_projector.items import BatchResult, Message
from cungdan_projector.projection import Projection, ProjectionSettings
from cungdan_projector.reader import StreamReader
from cungdan_projector.reads import TotalsFilter
from cungdan_projector.runtime import stream_projection
from cungdan_projector.store import GenerationStore

pytest_plugins = ["tests.integration.projection_fixtures"]  # nc, model, store
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TREES = 3
"""Trees planted by every event published here."""


class Recorder:
    """Wraps ``store.apply``: records the sequences of every batch handed to the store, and
    can hold batches back (as a slow or stuck database would)."""

    def __init__(self, store: GenerationStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[list[int]] = []
        self.hold_after: int | None = None
        """Batches starting after this sequence wait for ``gate``."""
        self.gate = threading.Event()
        self.held = threading.Event()
        original = store.apply

        def apply(batch: Sequence[Message]) -> BatchResult:
            if self.hold_after is not None and batch[0].seq > self.hold_after:
                self.held.set()
                self.gate.wait(60)
            self.batches.append([item.seq for item in batch])
            return original(batch)

        monkeypatch.setattr(store, "apply", apply)

    @property
    def sequences(self) -> list[int]:
        return [seq for batch in self.batches for seq in batch]


async def publish_many(nc: Client, count: int) -> int:
    js, last = nc.jetstream(), 0
    for _ in range(count):
        ev = event(measures={"trees_planted": TREES})
        subject = logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id)
        last = (await js.publish(subject, encode_event(ev))).seq
    return last


async def eventually(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def projection_of(nc: Client, store: GenerationStore, batch_max: int) -> Projection:
    return stream_projection(nc, store, load_gazetteer(), DeadLetterPublisher(nc),
                             ProjectionSettings(batch_max=batch_max, queue_max=10 * batch_max,
                                                retry_max_seconds=0.5))


def trees(store: GenerationStore) -> int:
    sums = store.model.totals(AdminMap.LEGACY.value, ["VN"], TotalsFilter())[1]["VN"]
    return sums.get("trees_planted", 0)


async def consumer_names(nc: Client) -> list[str]:
    return [c.name for c in await nc.jetstream().consumers_info(STREAM)]


async def test_small_batches_apply_every_sequence_once_in_order(
    nc: Client, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 1200
    last = await publish_many(nc, count)
    recorder = Recorder(store, monkeypatch)
    projection = projection_of(nc, store, batch_max=50)
    await projection.start()
    try:
        await eventually(lambda: projection.position == last, f"position {last}")
        assert projection.ready
    finally:
        await projection.stop()
    assert (last, projection.position) == (count, count)
    # While behind, every batch is full (nothing more was published meanwhile).
    assert recorder.batches == [list(range(n, n + 50)) for n in range(1, count + 1, 50)]
    assert (projection.applied_total, trees(store)) == (count, count * TREES)
    assert projection.source.consumers_created == 1
    assert await consumer_names(nc) == []  # stop() deleted the consumer


async def test_memory_stays_bounded_while_the_store_is_stuck(
    nc: Client, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    count, batch_max = 3000, 100
    await publish_many(nc, count)
    recorder = Recorder(store, monkeypatch)
    recorder.hold_after = batch_max  # the first batch commits, the second one hangs
    projection = projection_of(nc, store, batch_max=batch_max)
    await projection.start()
    try:
        await eventually(recorder.held.is_set, "the second batch to reach the store")
        await eventually(lambda: projection.source.holding == 2 * batch_max,
                         "one batch in hand and one prefetched")
        seen = []
        for _ in range(50):  # 1 s: nothing more arrives while the store is stuck
            seen.append(projection.source.holding)
            await asyncio.sleep(0.02)
        assert max(seen) == 2 * batch_max
        [info] = await nc.jetstream().consumers_info(STREAM)
        assert info.delivered is not None
        delivered = info.delivered.stream_seq
        assert delivered == projection.position + 2 * batch_max
        assert info.num_pending == count - delivered  # the rest waits on the server
        recorder.gate.set()
        await eventually(lambda: projection.position == count, f"position {count}")
    finally:
        recorder.gate.set()
        await projection.stop()
    assert recorder.sequences == list(range(1, count + 1))
    assert trees(store) == count * TREES
    assert projection.source.consumers_created == 1


async def test_a_consumer_deleted_under_the_projection_is_recreated_without_loss(
    nc: Client, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    count, batch_max = 2000, 50
    await publish_many(nc, count)
    recorder = Recorder(store, monkeypatch)
    recorder.hold_after = 500
    projection = projection_of(nc, store, batch_max=batch_max)
    js = nc.jetstream()
    await projection.start()
    try:
        # 1. Deleted while a batch is in hand and the next one prefetched, with no pull
        # request open (as the server's inactive_threshold would do during a long commit).
        await eventually(recorder.held.is_set, "a batch past 500 in hand")
        await eventually(lambda: projection.source.holding == 2 * batch_max, "a full prefetch")
        first = projection.source.consumer_name
        assert first is not None
        await js.delete_consumer(STREAM, first)
        recorder.gate.set()
        await eventually(lambda: projection.position == count, f"position {count}")
        assert projection.source.consumers_created == 2
        assert first not in await consumer_names(nc)
        assert recorder.sequences == list(range(1, count + 1))  # prefetch dropped, re-read

        # 2. Deleted at the tail, while a pull request waits for new messages (409).
        second = projection.source.consumer_name
        assert second is not None and second != first
        await js.delete_consumer(STREAM, second)
        await eventually(lambda: projection.source.consumers_created == 3, "a third consumer")
        assert "409" in (projection.source.last_break or "")
        last = await publish_many(nc, 30)
        await eventually(lambda: projection.position == last, f"position {last}")
        assert projection.ready
    finally:
        recorder.gate.set()
        await projection.stop()
    assert recorder.sequences == list(range(1, count + 31))
    assert projection.applied_total == count + 30
    assert trees(store) == (count + 30) * TREES


async def test_a_message_lost_on_the_way_is_noticed_and_read_again(
    nc: Client, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when nats-py drops messages of a slow subscription: within the stream (the next
    message's consumer sequence shows the gap) and at its end (the heartbeat shows it)."""
    count = 600
    last = await publish_many(nc, count)
    lose = {137}
    receive = StreamReader._receive

    async def lossy(self: StreamReader, consumer: object, msg: Msg) -> None:
        if msg.reply and msg.metadata.sequence.stream in lose:
            lose.discard(msg.metadata.sequence.stream)
            return
        await receive(self, consumer, msg)  # type: ignore[arg-type]

    monkeypatch.setattr(StreamReader, "_receive", lossy)
    monkeypatch.setattr(StreamReader, "heartbeat", 0.2)
    recorder = Recorder(store, monkeypatch)
    projection = projection_of(nc, store, batch_max=40)
    await projection.start()
    try:
        await eventually(lambda: projection.position == last, f"position {last}")
        assert lose == set()
        assert projection.source.consumers_created == 2
        assert (projection.source.last_break or "").startswith(
            "gap: consumer sequence 138 after 136")
        # At the tail a pull request waits: only the next heartbeat can tell the loss.
        lose.add(count + 1)
        last = await publish_many(nc, 1)
        await eventually(lambda: projection.position == last, f"position {last}")
        assert lose == set()
        assert projection.source.consumers_created == 3
        assert (projection.source.last_break or "").startswith(
            "gap: the server sent up to consumer sequence")
    finally:
        await projection.stop()
    assert recorder.sequences == list(range(1, count + 2))
    assert trees(store) == (count + 1) * TREES


async def test_the_projection_resumes_by_itself_after_the_broker_restarts(
    nc: Client, nats_server: NatsServer, store: GenerationStore,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StreamReader, "heartbeat", 0.3)
    recorder = Recorder(store, monkeypatch)
    first = await publish_many(nc, 300)
    projection = projection_of(nc, store, batch_max=50)
    await projection.start()
    try:
        await eventually(lambda: projection.position == first, f"position {first}")
        assert projection.problem is None
        nats_server.kill()
        await eventually(lambda: projection.problem is not None, "a problem reported")
        assert not projection.ready
        await asyncio.sleep(1.0)  # an outage that lasts (a duration, not a wait)
        nats_server.restart()  # same port, same store
        await eventually(lambda: projection.ready, "ready again")
        last = await publish_many(nc, 200)
        await eventually(lambda: projection.position == last, f"position {last}")
    finally:
        await projection.stop()
    assert last == 500
    assert recorder.sequences == list(range(1, 501))
    assert trees(store) == 500 * TREES
    assert projection.source.consumers_created >= 2
