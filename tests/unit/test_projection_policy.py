"""The projection runner's policy, without a broker or a database: a stream in a list
(:class:`tests.fakes.MemorySource`), a read model in dictionaries
(:class:`tests.fakes.MemoryGeneration`) and a writer that fails on demand.

The same policies run against a real nats-server in ``tests/integration/test_projection*.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from tests.factories import event
from tests.fakes import MemoryGeneration, MemorySource

from cungdan_contracts import Gazetteer, encode_event, load_gazetteer
from cungdan_contracts.subjects import logged_subject
from cungdan_projector.items import BatchResult, DeadLetter, Message
from cungdan_projector.projection import Projection, ProjectionSettings
from cungdan_projector.writer import BatchRefusedError, WriterUnavailableError

SETTINGS = ProjectionSettings(batch_max=10, queue_max=10, retry_max_seconds=0.01,
                              max_attempts=3)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def reports(count: int, trees: int = 1) -> list[tuple[str, bytes]]:
    out = []
    for _ in range(count):
        ev = event(measures={"trees_planted": trees})
        out.append((logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id),
                    encode_event(ev)))
    return out


class MemoryWriter:
    """Commits to a :class:`MemoryGeneration`; fails as told."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.unavailable = 0
        """Calls still to fail as unavailable (the database down)."""
        self.refused: set[int] = set()
        """Sequences the database refuses, in any batch that holds them (as events: their
        dead letters it takes)."""
        self.gate: asyncio.Event | None = None
        self.indexes_built = 0

    async def start(self) -> None:
        return None

    def prepare(self, store: Any, items: Sequence[Message]) -> bytes | None:
        return None

    async def apply(self, store: MemoryGeneration, items: Sequence[Message],
                    prepared: bytes | None = None) -> BatchResult:
        self.calls.append([item.seq for item in items])
        if self.gate is not None:
            await self.gate.wait()
        if self.unavailable:
            self.unavailable -= 1
            raise WriterUnavailableError("database down")
        if self.refused & {item.seq for item in items if not isinstance(item, DeadLetter)}:
            raise BatchRefusedError("CHECK constraint failed")
        return store.apply(items)

    async def build_indexes(self, store: Any) -> None:
        self.indexes_built += 1

    async def close(self) -> None:
        return None


class MemorySink:
    def __init__(self) -> None:
        self.letters: list[tuple[int, bytes, str]] = []

    async def publish(self, msg: Any, seq: int, reason: str) -> None:
        self.letters.append((seq, msg.data, reason))


class Rig:
    def __init__(self, gazetteer: Gazetteer, messages: list[tuple[str, bytes]]) -> None:
        self.store = MemoryGeneration()
        self.source = MemorySource(messages, batch=SETTINGS.batch_max)
        self.writer = MemoryWriter()
        self.sink = MemorySink()
        self.projection = Projection(self.store, self.source, gazetteer,  # type: ignore[arg-type]
                                     self.sink, SETTINGS, writer=self.writer)

    async def until(self, check: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not check():  # noqa: ASYNC110 - a condition of other objects, polled
                await asyncio.sleep(0.001)
        try:
            await asyncio.wait_for(wait(), 10)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    def trees(self) -> int:
        return self.store.total("VN", "trees_planted")


async def test_the_stream_is_folded_in_batches_and_the_position_follows(
        gazetteer: Gazetteer) -> None:
    rig = Rig(gazetteer, reports(25))
    await rig.projection.start()
    await rig.until(lambda: rig.projection.position == 25, "position 25")
    await rig.projection.stop()
    assert rig.source.taken == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    assert (rig.trees(), rig.projection.applied_total) == (25, 25)
    assert rig.writer.indexes_built == 1  # once caught up, not per batch
    assert rig.source.closed and rig.source.in_hand == 0


async def test_a_projection_resumes_after_its_stored_position(gazetteer: Gazetteer) -> None:
    rig = Rig(gazetteer, reports(12))
    rig.store.at = 7  # as if 1-7 were applied before a restart
    await rig.projection.start()
    await rig.until(lambda: rig.projection.position == 12, "position 12")
    await rig.projection.stop()
    assert (rig.source.started_at, rig.trees()) == (7, 5)


async def test_a_malformed_message_is_dead_lettered_with_its_original(
        gazetteer: Gazetteer) -> None:
    messages = reports(4)
    messages[2] = ("cungdan.activity.v2.logged.legacy.15.x.y", b"{not json")
    rig = Rig(gazetteer, messages)
    await rig.projection.start()
    await rig.until(lambda: rig.projection.position == 4, "position 4")
    await rig.projection.stop()
    [(seq, data, reason)] = rig.sink.letters
    assert (seq, data) == (3, b"{not json") and reason.startswith("not JSON")
    assert [d.seq for d in rig.store.dead_letters] == [3]
    assert (rig.trees(), rig.projection.dead_lettered_total) == (3, 1)
    assert rig.source.read_back == []  # the original was kept from decoding


async def test_an_unavailable_database_is_waited_out_and_nothing_counts_twice(
        gazetteer: Gazetteer) -> None:
    rig = Rig(gazetteer, reports(10))
    rig.writer.unavailable = 5
    problems: list[str | None] = []
    rig.writer.gate = asyncio.Event()
    await rig.projection.start()
    await rig.until(lambda: len(rig.writer.calls) == 1, "the first attempt")
    rig.writer.gate.set()
    await rig.until(lambda: rig.projection.position == 10 or bool(
        problems.append(rig.projection.problem)), "position 10")
    await rig.projection.stop()
    assert any(p and p.startswith("database or NATS unavailable") for p in problems)
    assert rig.projection.problem is None
    assert len(rig.writer.calls) == 6 and rig.trees() == 10


async def test_a_refused_batch_goes_event_by_event_and_the_bad_one_is_dead_lettered(
        gazetteer: Gazetteer) -> None:
    rig = Rig(gazetteer, reports(6))
    rig.writer.refused = {4}
    await rig.projection.start()
    await rig.until(lambda: rig.projection.position == 6, "position 6")
    await rig.projection.stop()
    assert rig.writer.calls[0] == [1, 2, 3, 4, 5, 6]
    assert rig.writer.calls.count([4]) == SETTINGS.max_attempts + 1  # tries, then its letter
    [(seq, _, reason)] = rig.sink.letters
    assert seq == 4 and reason.startswith("refused by the read model 3 time(s)")
    assert rig.source.read_back == [4]  # its original, read again from the stream
    assert [(d.seq, d.attempts) for d in rig.store.dead_letters] == [(4, 3)]
    assert rig.trees() == 5


async def test_the_next_batch_is_decoded_while_one_commits_and_stop_waits_for_it(
        gazetteer: Gazetteer) -> None:
    rig = Rig(gazetteer, reports(30))
    rig.writer.gate = asyncio.Event()
    await rig.projection.start()
    await rig.until(lambda: len(rig.source.taken) == 2 and len(rig.writer.calls) == 1,
                    "the second batch taken while the first commits")
    stopping = asyncio.create_task(rig.projection.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # the batch in hand is committed first
    rig.writer.gate.set()
    await stopping
    assert (rig.projection.position, rig.writer.calls) == (10, [list(range(1, 11))])
    assert rig.trees() == 10


async def test_wait_for_answers_once_the_position_is_reached(gazetteer: Gazetteer) -> None:
    rig = Rig(gazetteer, reports(3))
    await rig.projection.start()
    assert await rig.projection.wait_for(3, timeout_s=10)
    assert not await rig.projection.wait_for(4, timeout_s=0.01)
    rig.source.publish(*reports(1)[0])
    assert await rig.projection.wait_for(4, timeout_s=10)
    await rig.projection.stop()
    assert rig.trees() == 4


def test_the_settings_take_the_services_and_cap_the_prefetch() -> None:
    assert ProjectionSettings(batch_max=100, queue_max=30).prefetch == 30
    assert ProjectionSettings(batch_max=100, queue_max=3000).prefetch == 100
