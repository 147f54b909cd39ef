"""The projector's stream consumption against a real nats-server and SQLite:
batches, restarts, poison messages, dead letters, re-drive, rebuild, read-your-writes."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import NoReturn

import pytest
from nats.aio.client import Client
from sqlalchemy import inspect
from tests.factories import event

from cungdan_contracts import (
    INDICATORS,
    ActivityCorrected,
    ActivityRetracted,
    AdminMap,
    CorrectionRequest,
    Gazetteer,
    RetractionRequest,
    UnknownContractError,
    encode_event,
    load_gazetteer,
)
from cungdan_contracts.periods import PeriodClosed, period_subject
from cungdan_contracts.subjects import (
    STREAM,
    corrected_subject,
    logged_subject,
    retracted_subject,
)
from cungdan_projector import closing_reads, decoding
from cungdan_projector.deadletters import (
    DEADLETTER_STREAM,
    DeadLetterPublisher,
    deadletter_subject,
)
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Logged
from cungdan_projector.projection import Projection, ProjectionSettings
from cungdan_projector.reads import TotalsFilter
from cungdan_projector.redrive import Redriver
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.runtime import ProjectorRuntime, stream_projection
from cungdan_projector.settings import ProjectorSettings
from cungdan_projector.store import GenerationStore
from cungdan_projector.writer import ThreadWriter, Writer, WriterUnavailableError

pytest_plugins = ["tests.integration.projection_fixtures"]  # nc, model, store
pytestmark = pytest.mark.integration

async def publish(nc: Client, **overrides: object) -> int:
    ev = event(**overrides)
    subject = logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id)
    ack = await nc.jetstream().publish(subject, encode_event(ev))
    return ack.seq

async def publish_many(nc: Client, count: int, **overrides: object) -> int:
    """Publish ``count`` events alike; the last one's sequence."""
    last = 0
    for _ in range(count):
        last = await publish(nc, **overrides)
    return last

async def eventually(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")

async def project_until(nc: Client, store: GenerationStore, seq: int, *, batch_max: int = 100,
                        gazetteer: Gazetteer | None = None,
                        writer: Writer | None = None) -> Projection:
    projection = stream_projection(
        nc, store, gazetteer or load_gazetteer(), DeadLetterPublisher(nc),
        ProjectionSettings(batch_max=batch_max, queue_max=1000, retry_max_seconds=1.0),
        writer=writer)
    await projection.start()
    try:
        await eventually(lambda: projection.position >= seq, f"position {seq}")
    except AssertionError:
        await projection.stop()
        raise
    return projection

def trees(model: ReadModel, locality: str = "VN") -> int:
    sums = model.totals(AdminMap.LEGACY.value, [locality], TotalsFilter())[1][locality]
    return sums.get("trees_planted", 0)

async def test_events_are_projected_in_batches_and_resume_after_restart(
    nc: Client, store: GenerationStore
) -> None:
    last = await publish_many(nc, 250, measures={"trees_planted": 2})
    projection = await project_until(nc, store, last, batch_max=64)
    await projection.stop()
    assert trees(store.model) == 500
    assert projection.applied_total == 250
    last = await publish_many(nc, 10, measures={"trees_planted": 1})
    restarted = await project_until(nc, store, last)
    await restarted.stop()
    assert restarted.applied_total == 10  # resumed after the stored position, nothing re-read
    assert trees(store.model) == 510

class IndexBuildRecorder(ThreadWriter):
    """Commits in a thread, and notes the position at which the indexes were built (-1: a
    build that failed, the database away, as the first one does with ``fail_first``)."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.built_at: list[int] = []
        self._fail_first = fail_first

    async def build_indexes(self, store: GenerationStore) -> None:
        if self._fail_first and not self.built_at:
            self.built_at.append(-1)
            raise WriterUnavailableError("database unavailable")
        self.built_at.append(store.position())
        await super().build_indexes(store)

async def test_deferred_indexes_are_built_once_the_stream_is_caught_up(
    nc: Client, store: GenerationStore
) -> None:
    last = await publish_many(nc, 250, measures={"trees_planted": 2})
    writer = IndexBuildRecorder()
    projection = await project_until(nc, store, last, batch_max=64, writer=writer)
    try:
        await eventually(lambda: projection.indexed, "the deferred indexes")
        assert writer.built_at == [last]  # not while batches were still behind the stream
        by_day = f"activities_g{store.number}_by_day"
        assert by_day in {i["name"] for i in inspect(store.model.engine).get_indexes(
            store.tables.activities.name)}
        last = await publish_many(nc, 10, measures={"trees_planted": 1})
        await eventually(lambda: projection.position >= last, f"position {last}")
    finally:
        await projection.stop()
    assert writer.built_at == [250]  # once
    assert trees(store.model) == 510

async def test_deferred_indexes_that_fail_to_build_are_retried_and_nothing_else_stops(
    nc: Client, store: GenerationStore
) -> None:
    last = await publish_many(nc, 50, measures={"trees_planted": 2})
    writer = IndexBuildRecorder(fail_first=True)
    projection = await project_until(nc, store, last, writer=writer)
    try:
        await eventually(lambda: writer.built_at == [-1], "the failed build")
        assert not projection.indexed
        last = await publish_many(nc, 5, measures={"trees_planted": 1})
        await eventually(lambda: projection.indexed, "the deferred indexes, built again")
        assert writer.built_at[0] == -1 and 50 < writer.built_at[1] <= last  # then, once
        assert len(writer.built_at) == 2
        await eventually(lambda: projection.position >= last, f"position {last}")
    finally:
        await projection.stop()
    assert trees(store.model) == 105

async def test_an_id_published_twice_outside_ingest_counts_once(
    nc: Client, store: GenerationStore
) -> None:
    ev = event(measures={"trees_planted": 3})
    await nc.jetstream().publish(
        logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id), encode_event(ev))
    # A buggy producer re-publishes the same event under another subject, without msg id.
    seq = (await nc.jetstream().publish(
        logged_subject(ev.map, "VN", "dan-van-kheo", ev.id), encode_event(ev))).seq
    projection = await project_until(nc, store, seq)
    await projection.stop()
    assert trees(store.model) == 3

async def test_poison_messages_are_dead_lettered_and_the_rest_flows(
    nc: Client, store: GenerationStore
) -> None:
    await publish(nc, measures={"trees_planted": 4})
    js = nc.jetstream()
    await js.publish("cungdan.activity.v1.logged.legacy.15.x.not-json", b"{not json",
                     headers={"Producer": "buggy"})
    await js.publish("cungdan.activity.v1.logged.legacy.15.x.v9",
                     encode_event(event()).replace(b'"version":2', b'"version":9', 1))
    last = await publish(nc, measures={"trees_planted": 6})
    projection = await project_until(nc, store, last)
    await projection.stop()
    assert trees(store.model) == 10
    assert [d.seq for d in store.dead_letters()] == [2, 3]
    assert "version" in store.dead_letters()[1].reason
    letter = await js.get_msg(DEADLETTER_STREAM, 1, direct=True)
    assert letter.data == b"{not json"
    assert letter.headers is not None
    assert letter.headers["Cungdan-Original-Seq"] == "2"
    assert letter.headers["Cungdan-Original-Subject"].endswith(".not-json")
    assert letter.headers["Producer"] == "buggy"
    assert letter.headers["Cungdan-Reason"].startswith("not JSON")
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 2

async def test_a_redriven_dead_letter_is_applied_exactly_once(
    nc: Client, model: ReadModel, store: GenerationStore
) -> None:
    full = load_gazetteer()
    # A gazetteer that lacks Nậm Khắt (04495): its events cannot be rolled up yet.
    partial = Gazetteer(loc for m in AdminMap for loc in _all(full, m) if loc.code != "04495")
    seq = await publish(nc, locality="04495", measures={"trees_planted": 8})
    projection = await project_until(nc, store, seq, gazetteer=partial)
    await projection.stop()
    assert trees(model) == 0
    assert [d.reason for d in store.dead_letters()] == ["unknown locality: \"unknown locality "
                                                        "'04495' in the legacy map\""]
    runtime = ProjectorRuntime(nc, model, full, DeadLetterPublisher(nc), ProjectorSettings())
    await runtime.start()
    try:
        redriver = Redriver(nc, runtime, full)  # the cause is fixed: the full gazetteer
        assert [r["status"] for r in await redriver.redrive()] == ["applied"]
        assert await redriver.redrive() == []
        assert trees(model) == 8
    finally:
        await runtime.stop()

async def test_a_redriven_period_event_that_now_decodes_waits_for_a_rebuild(
    nc: Client, model: ReadModel, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A period event is applied in stream order only: re-driving it answers "still
    failing", counts nothing and leaves the dead letter pending; a rebuild applies it."""
    await publish(nc, measures={"trees_planted": 2})  # Nậm Khắt, Yên Bái (15), 2023-05-06
    close = PeriodClosed(recorded_at=dt.datetime(2023, 7, 2, tzinfo=dt.UTC), province="15",
                         map=AdminMap.LEGACY, period="2023-Q2", closing=1, by="approver",
                         reason="sent")
    seq = (await nc.jetstream().publish(period_subject(close), encode_event(close))).seq

    def unknown(_: bytes) -> NoReturn:  # a projector that did not know this contract yet
        raise UnknownContractError("unknown event type 'PeriodClosed'")

    monkeypatch.setattr(decoding, "decode_period_event", unknown)
    projection = await project_until(nc, store, seq)
    await projection.stop()
    monkeypatch.undo()
    assert [(d.seq, d.reason) for d in store.dead_letters()] == [
        (seq, "unknown contract: unknown event type 'PeriodClosed'")]
    runtime = ProjectorRuntime(nc, model, load_gazetteer(), DeadLetterPublisher(nc),
                               ProjectorSettings())
    await runtime.start()
    try:
        redriver = Redriver(nc, runtime, load_gazetteer())
        for _ in range(2):  # still pending: the same answer again
            assert await redriver.redrive() == [{
                "generation": store.number, "seq": seq, "status": "still failing",
                "reason": "a period event is applied in stream order only: rebuild the "
                          "read model to apply it"}]
        assert [d.seq for d in store.dead_letters(pending_only=True)] == [seq]
        assert closing_reads.periods(model.engine, "legacy", "15")[1] == {}
        await runtime.start_rebuild()
        await eventually(lambda: runtime.rebuild_status()["state"] == "done", "rebuild")
        _, found = closing_reads.periods(model.engine, "legacy", "15")
        assert [(c.closing, c.seq) for c in found["2023-Q2"].closings] == [(1, seq)]
        _, _, sums = closing_reads.closed_figures(model.engine, "legacy", "15", "2023-Q2",
                                                  1, ["15"], None)
        assert sums["15"][list(INDICATORS).index("trees_planted")] == 2
        assert await redriver.redrive() == []  # the new generation has no dead letter
    finally:
        await runtime.stop()

async def test_a_batch_the_database_refuses_is_isolated_and_the_culprit_dead_lettered(
    nc: Client, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await publish(nc, measures={"trees_planted": 1})
    poison = await publish(nc, measures={"trees_planted": 666})
    last = await publish(nc, measures={"trees_planted": 2})
    original = GenerationStore.apply

    def refusing(self: GenerationStore, batch: list) -> object:  # type: ignore[type-arg]
        if any(i.seq == poison and isinstance(i, Logged) for i in batch):
            raise ValueError("integer overflow")
        return original(self, batch)

    monkeypatch.setattr(GenerationStore, "apply", refusing)
    projection = await project_until(nc, store, last)
    await projection.stop()
    assert (first, trees(store.model)) == (1, 3)
    [letter] = store.dead_letters()
    assert (letter.seq, letter.attempts) == (poison, 3)
    assert "integer overflow" in letter.reason
    # the message was not kept after decoding: the dead letter carries it read back
    original = await nc.jetstream().get_msg(STREAM, poison)
    dead = await nc.jetstream().get_msg(DEADLETTER_STREAM, subject=deadletter_subject(poison))
    assert letter.subject == original.subject
    assert dead.data == original.data
    assert dead.headers is not None
    assert dead.headers["Cungdan-Original-Subject"] == original.subject
    assert dead.headers["Cungdan-Original-Seq"] == str(poison)

async def test_a_refused_events_original_no_longer_in_the_stream_is_an_empty_message(
    nc: Client, store: GenerationStore
) -> None:
    """Messages are dropped once decoded, and a refused event's original is read back for
    its dead letter. The stream refuses deletes, but one recreated or limited by an
    operator may have lost it: the dead letter is then written without the payload
    instead of the projector waiting for ever."""
    last = await publish(nc, measures={"trees_planted": 1})
    projection = await project_until(nc, store, last)
    try:
        kept = await projection._original(last, {})
        gone = await projection._original(last + 1000, {})
    finally:
        await projection.stop()
    assert kept.subject is not None and kept.subject.startswith("cungdan.activity.")
    assert (gone.subject, gone.data) == ("", b"")

async def test_read_your_writes_waits_for_the_position(
    nc: Client, model: ReadModel, store: GenerationStore
) -> None:
    projection = await project_until(nc, store, 0)
    try:
        assert await projection.wait_for(1, timeout_s=0.1) is False  # nothing published yet
        waiter = asyncio.create_task(projection.wait_for(1, timeout_s=5))
        await publish(nc, measures={"trees_planted": 5})
        assert await waiter is True
        assert trees(model) == 5
    finally:
        await projection.stop()

async def test_rebuild_builds_beside_the_live_model_and_swaps(
    nc: Client, model: ReadModel
) -> None:
    last = await publish_many(nc, 300, measures={"trees_planted": 1})
    settings = ProjectorSettings(batch_max=20)
    runtime = ProjectorRuntime(nc, model, load_gazetteer(), DeadLetterPublisher(nc), settings)
    await runtime.start()
    try:
        await eventually(lambda: runtime.live is not None and runtime.live.position >= last,
                         "live projection")
        await runtime.start_rebuild()
        seen: list[tuple[int, int]] = []
        while runtime.rebuild_status()["state"] == "running":
            position, sums = model.totals(AdminMap.LEGACY.value, ["VN"], TotalsFilter())
            seen.append((position, sums["VN"]["trees_planted"]))
            await asyncio.sleep(0.01)
        assert seen and all(s == (last, 300) for s in seen)  # reads stay correct meanwhile
        last = await publish(nc, measures={"trees_planted": 1})
        await eventually(lambda: trees(model) == 301, "the new generation to stay live")
        assert [(g.generation, g.status) for g in model.generations()] == [(2, "active")]
    finally:
        await runtime.stop()

async def test_a_newer_projection_version_rebuilds_on_start(
    nc: Client, model: ReadModel
) -> None:
    await publish(nc, measures={"trees_planted": 4})
    first = ProjectorRuntime(nc, model, load_gazetteer(), DeadLetterPublisher(nc),
                             ProjectorSettings(), version=PROJECTION_VERSION)
    await first.start()
    await eventually(lambda: trees(model) == 4, "this version projected")
    await first.stop()
    second = ProjectorRuntime(nc, model, load_gazetteer(), DeadLetterPublisher(nc),
                              ProjectorSettings(), version=PROJECTION_VERSION + 1)
    await second.start()
    try:
        await eventually(lambda: second.rebuild_status()["state"] == "done", "rebuild")
        assert [(g.version, g.status) for g in model.generations()] == [
            (PROJECTION_VERSION + 1, "active")]
        assert trees(model) == 4
    finally:
        await second.stop()

def _all(gazetteer: Gazetteer, admin_map: AdminMap) -> list:  # type: ignore[type-arg]
    found, todo = [], ["VN"]
    while todo:
        loc = gazetteer.get(admin_map, todo.pop())
        if loc is not None:
            found.append(loc)
            todo.extend(c.code for c in gazetteer.children(admin_map, loc.code))
    return found


async def test_corrections_and_retractions_from_the_stream(
    nc: Client, store: GenerationStore
) -> None:
    original = event(measures={"trees_planted": 10, "road_km": "1"})
    other = event(measures={"trees_planted": 5})
    js = nc.jetstream()
    for ev in (original, other):
        await js.publish(logged_subject(ev.map, ev.source_province, ev.activity.campaign, ev.id),
                         encode_event(ev))
    envelope = {"recorded_at": original.recorded_at, "source_province": "15",
                "map": original.map, "activity_id": original.id,
                "campaign": original.activity.campaign}
    fix = ActivityCorrected(**envelope, correction=CorrectionRequest(
        id=uuid.uuid4(), measures={"trees_planted": Decimal(12)}, reason="đếm lại"))
    await js.publish(corrected_subject(original.map, "15", original.activity.campaign,
                                       original.id, fix.correction.id), encode_event(fix))
    gone = ActivityRetracted(**{**envelope, "activity_id": other.id},
                             retraction=RetractionRequest(reason="báo trùng"))
    last = (await js.publish(retracted_subject(other.map, "15", other.activity.campaign,
                                               other.id), encode_event(gone))).seq
    projection = await project_until(nc, store, last)
    await projection.stop()
    totals = store.model.totals(AdminMap.LEGACY.value, ["VN"], TotalsFilter())[1]["VN"]
    assert totals == {"trees_planted": 12}  # road_km left the corrected set: 0, not shown
