"""The writer process (``cungdan_projector.writer``) on real SQLite and PostgreSQL: batches
applied in a child process count exactly once, whatever happens to the child (killed
between batches, killed in the middle of one, orphaned), and its failures arrive
classified as retry-later or refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect
from tests.integration.both_stores import active_store, read_model

from cungdan.processes import free_port, pid_alive, wait_pid_gone
from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Logged, Origin
from cungdan_projector.reads import TotalsFilter
from cungdan_projector.rollup import Facts
from cungdan_projector.store import GenerationStore
from cungdan_projector.writer import (
    BatchRefusedError,
    ProcessWriter,
    WriterUnavailableError,
    writer_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

COMMUNE = "04495"
RECORDED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def activities(first_seq: int, count: int, houses: int = 1) -> list[Logged]:
    """``count`` new activities in one commune, ``houses`` houses built each."""
    path = load_gazetteer().ancestors(AdminMap.LEGACY, COMMUNE)
    return [Logged(seq, str(uuid.uuid4()),
                   Facts(AdminMap.LEGACY, path, "dan-van-kheo", dt.date(2023, 5, 6),
                         {"houses_built": houses}),
                   Origin(AdminMap.LEGACY.value, path[-2], "dan-van-kheo", RECORDED))
            for seq in range(first_seq, first_seq + count)]


def houses(model: ReadModel) -> tuple[int, int]:
    """(position, houses built in the nation) of the active generation."""
    position, sums = model.totals(AdminMap.LEGACY.value, ["VN"], TotalsFilter())
    return position, sums["VN"].get("houses_built", 0)


model = pytest.fixture(name="model")(read_model)
store = pytest.fixture(name="store")(active_store)


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[ProcessWriter]:
    w = ProcessWriter(database_url)
    yield w
    await w.close()


async def test_batches_applied_in_the_child_count_exactly_once(
        writer: ProcessWriter, store: GenerationStore, model: ReadModel) -> None:
    await writer.start()  # up before the first batch: its start-up does not delay it
    child = writer.pid
    assert child not in (None, os.getpid())
    batch = activities(1, 300)
    result = await writer.apply(store, batch)
    assert writer.pid == child
    assert (result.applied, result.already_applied, result.position) == (300, 0, 300)
    assert result.counted == (("legacy", batch[0].origin.province, "dan-van-kheo", 300),)
    assert result.latest == (("legacy", batch[0].origin.province, RECORDED),)
    assert houses(model) == (300, 300)

    again = await writer.apply(store, batch)  # redelivered: behind the position
    republished = [Logged(seq, a.event_id, a.facts, a.origin)
                   for seq, a in enumerate(batch, 301)]  # same ids, later sequences
    twice = await writer.apply(store, republished, writer.prepare(store, republished))
    assert (again.applied, twice.applied, twice.already_applied) == (0, 0, 300)
    assert houses(model) == (600, 300)
    assert writer.started == 1


async def test_a_batch_prepared_ahead_is_the_batch_applied(
        writer: ProcessWriter, store: GenerationStore, model: ReadModel) -> None:
    """The projector makes the request in its decoding thread; it carries the same batch."""
    batch = activities(1, 40, houses=3)
    prepared = writer.prepare(store, batch)
    assert isinstance(prepared, bytes)
    result = await writer.apply(store, batch, prepared)
    assert (result.applied, result.position) == (40, 40)
    assert houses(model) == (40, 120)


async def test_the_child_builds_the_deferred_indexes(
        writer: ProcessWriter, store: GenerationStore) -> None:
    def indexes() -> set[str]:
        return {str(i["name"]) for i in inspect(store.model.engine).get_indexes(
            store.tables.activities.name)}

    await writer.apply(store, activities(1, 20))
    assert f"activities_g{store.number}_by_day" not in indexes()
    await writer.build_indexes(store)
    await writer.build_indexes(store)  # built: nothing to do
    assert f"activities_g{store.number}_by_day" in indexes()
    assert writer.started == 1


async def test_a_writer_killed_between_batches_is_replaced(
        writer: ProcessWriter, store: GenerationStore, model: ReadModel) -> None:
    await writer.apply(store, activities(1, 100))
    first = writer.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert wait_pid_gone(first, 10)

    second = activities(101, 100)
    failure: WriterUnavailableError | None = None
    try:  # a new child, at once if the death was noticed already
        result = await writer.apply(store, second)
    except WriterUnavailableError as exc:  # else this call finds the pipe broken
        failure = exc
        assert houses(model) == (100, 100)
        result = await writer.apply(store, second)
    assert failure is None or "died" in str(failure)
    assert (result.applied, writer.started) == (100, 2)
    assert writer.pid not in (None, first)
    assert houses(model) == (200, 200)


async def test_a_writer_killed_in_the_middle_of_a_batch_loses_and_doubles_nothing(
        writer: ProcessWriter, store: GenerationStore, model: ReadModel) -> None:
    await writer.apply(store, activities(1, 10))  # the child is up
    big = activities(11, 150_000)  # seconds of work in the child, on a fast machine too
    child = writer.pid
    assert child is not None
    # made before the clock starts: a kill while the service still packs would hit the
    # child between batches (it is replaced and the batch goes through)
    request = writer.prepare(store, big)
    attempt = asyncio.ensure_future(writer.apply(store, big, request))
    killer = _kill_later(child, 0.6)
    with pytest.raises(WriterUnavailableError):
        await attempt
    killer.wait()
    assert houses(model) == (10, 10)  # the transaction in flight was rolled back
    result = await writer.apply(store, big, request)  # the same batch again
    assert result.applied == 150_000
    assert houses(model) == (150_010, 150_010)


async def test_a_batch_the_database_refuses_arrives_as_refused(
        writer: ProcessWriter, store: GenerationStore, model: ReadModel) -> None:
    await writer.apply(store, activities(1, 5))
    too_big = activities(6, 1, houses=2**63)  # beyond BIGINT: refused by either database
    with pytest.raises(BatchRefusedError):
        await writer.apply(store, too_big)
    assert houses(model) == (5, 5)
    assert writer.started == 1  # a refusal is not a crash: the same child goes on
    assert (await writer.apply(store, activities(6, 5))).applied == 5


def test_an_orphaned_writer_exits(database_url: str, store: GenerationStore,
                                  tmp_path: Path) -> None:
    """The service SIGKILLed alone (the OOM killer picks one process): its writer exits
    instead of holding the database."""
    script = tmp_path / "service.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, sys, time
        from cungdan_projector.engine import make_engine
        from cungdan_projector.generations import ReadModel
        from cungdan_projector.writer import ProcessWriter

        async def main() -> None:
            writer = ProcessWriter({database_url!r})
            store = ReadModel(make_engine({database_url!r})).generation({store.number})
            await writer.apply(store, [])
            print(writer.pid, flush=True)
            await asyncio.sleep(60)

        if __name__ == "__main__":
            asyncio.run(main())
    """))
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    try:
        assert service.stdout is not None
        child = int(service.stdout.readline())
        assert pid_alive(child)
    finally:
        service.kill()
        service.wait()
    assert wait_pid_gone(child, 10), f"writer {child} outlived its service"


async def test_a_database_that_does_not_answer_arrives_as_unavailable() -> None:
    """Classified in the child: the batch is retried later, not refused event by event."""
    writer = ProcessWriter(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    unreachable = SimpleNamespace(number=1)  # the writer sends only the generation number
    try:
        with pytest.raises(WriterUnavailableError, match="OperationalError"):
            await writer.apply(unreachable, activities(1, 3))  # type: ignore[arg-type]
        assert writer.started == 1  # the writer is fine: the database is what is down
    finally:
        await writer.close()


def test_an_in_memory_database_is_written_by_a_thread() -> None:
    assert type(writer_for("sqlite://", "process")).__name__ == "ThreadWriter"
    assert type(writer_for("sqlite:///:memory:", "process")).__name__ == "ThreadWriter"
    assert type(writer_for("sqlite:///x.sqlite3", "thread")).__name__ == "ThreadWriter"
    assert isinstance(writer_for("sqlite:///x.sqlite3", "process"), ProcessWriter)


def _kill_later(pid: int, seconds: float) -> subprocess.Popen[bytes]:
    """SIGKILL ``pid`` after ``seconds``, from another process (this one awaits)."""
    return subprocess.Popen([sys.executable, "-c",
                             f"import os, time; time.sleep({seconds}); os.kill({pid}, 9)"])
