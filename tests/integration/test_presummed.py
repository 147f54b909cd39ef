"""A batch's sums made ahead of the writer (``store.presum``, COPY text for PostgreSQL):
on real SQLite and PostgreSQL, the stored sums are exactly the fold's own, whether the
store uses them (a batch of new activities, PostgreSQL) or sums the batch itself (anything
else, and always on SQLite)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from tests.factories import event
from tests.integration.both_stores import read_model
from tests.kits.loadgen import random_reports

from cungdan_contracts import load_gazetteer
from cungdan_contracts.lifecycle import retraction_id
from cungdan_projector.bulk import CopiedSums
from cungdan_projector.decoding import facts_of
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Corrected, DeadLetter, Logged, Message, Origin, Retracted
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.store import GenerationStore, presum

pytestmark = pytest.mark.integration

model = pytest.fixture(name="model")(read_model)


def logged(seq: int, report: dict[str, Any]) -> Logged:
    ev = event(**report)
    origin = Origin(ev.map.value, ev.source_province, ev.activity.campaign, ev.recorded_at)
    return Logged(seq, str(ev.id), facts_of(ev, load_gazetteer()), origin)


def varied(count: int, seed: int, first_seq: int = 1) -> list[Logged]:
    """Random communes of both maps, 1-5 measures, the campaign mix (as the bench)."""
    return [logged(first_seq + n, report)
            for n, report in enumerate(random_reports(count, seed=seed))]


def stored_sums(store: GenerationStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every all-time and monthly row of the generation, sorted."""
    with store.model.engine.connect() as conn:
        return {table.name.split("_g")[0]: sorted(tuple(r) for r in conn.execute(select(table)))
                for table in (store.tables.totals, store.tables.monthly)}


def spy_on_copied_sums(store: GenerationStore, monkeypatch: pytest.MonkeyPatch
                       ) -> list[CopiedSums]:
    """The sums made ahead that ``store`` wrote (it writes them only where it uses them)."""
    used: list[CopiedSums] = []
    original = store._bulk.copied_sums
    if original is None:
        return used  # SQLite: takes rows only

    def add(conn: Any, sums: CopiedSums) -> None:
        used.append(sums)
        original(conn, sums)

    monkeypatch.setattr(store._bulk, "copied_sums", add)
    return used


Presum = Callable[[Sequence[Message]], CopiedSums | None]


def twice(model: ReadModel, batches: Sequence[Sequence[Message]],
          monkeypatch: pytest.MonkeyPatch, made_ahead: Presum = presum
          ) -> tuple[GenerationStore, list[CopiedSums]]:
    """The batches applied to a generation that sums them itself, and with the sums
    ``made_ahead`` to another; asserts both store the same rows. Returns the second and
    what it used of the sums made ahead."""
    own = model.create_generation(PROJECTION_VERSION, active=True)
    ahead = model.create_generation(PROJECTION_VERSION)
    used = spy_on_copied_sums(ahead, monkeypatch)
    for batch in batches:
        expected = own.apply(batch)
        assert ahead.apply(batch, made_ahead(batch)) == expected
    assert stored_sums(ahead) == stored_sums(own)
    assert stored_sums(own)["totals"]  # the comparison compares something
    return ahead, used


def test_sums_made_ahead_store_what_the_fold_stores(
        model: ReadModel, monkeypatch: pytest.MonkeyPatch) -> None:
    batch: list[Message] = [*varied(400, seed=3)]
    first = batch[0]
    assert isinstance(first, Logged)
    batch[5] = Logged(6, first.event_id, first.facts, first.origin)  # the same id again
    gone = batch[7]
    assert isinstance(gone, Logged)
    batch[7] = Logged(8, gone.event_id, dataclasses.replace(gone.facts, retracted=True),
                      gone.origin)  # a retracted activity adds nothing
    batch.append(DeadLetter(401, "cungdan.activity.v2.logged.x", "not JSON"))
    _, used = twice(model, [batch, varied(300, seed=4, first_seq=402)], monkeypatch)
    assert len(used) == (0 if model.is_sqlite else 2)  # PostgreSQL took both as they were


def test_copy_text_with_escapes_arrives_as_it_was(
        model: ReadModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A campaign the contract would refuse, with every character COPY escapes: the COPY
    text still carries it exactly."""
    odd = "a\\b\tc\nd\re\bf\fg\vh"
    batch = [dataclasses.replace(item, facts=dataclasses.replace(item.facts, campaign=odd))
             for item in varied(20, seed=5)]
    ahead, _ = twice(model, [batch], monkeypatch)
    assert {row[2] for row in stored_sums(ahead)["totals"]} == {odd}


def correction(seq: int, activity: Logged, measures: dict[str, int] | None
               ) -> Corrected | Retracted:
    """A correction (``measures`` in units) or, with ``None``, the retraction of ``activity``."""
    if measures is None:
        return Retracted(seq, retraction_id(activity.event_id), activity.event_id,
                         activity.origin)
    return Corrected(seq, f"c-{seq}", activity.event_id, measures, activity.origin)


def redelivered(batch: list[Logged]) -> list[list[Message]]:
    """A batch, then the same with one more: the first ones are at or below the position."""
    return [[*batch], [*batch, *varied(1, seed=9, first_seq=len(batch) + 1)]]


def republished(batch: list[Logged]) -> list[list[Message]]:
    """A stored id published again under a later sequence, beside new ones."""
    again = Logged(len(batch) + 1, batch[0].event_id, batch[0].facts, batch[0].origin)
    return [[*batch], [again, *varied(2, seed=9, first_seq=len(batch) + 2)]]


def corrected_first(batch: list[Logged]) -> list[list[Message]]:
    """A correction that arrives before its activity (parked), then the activity."""
    late = varied(1, seed=9, first_seq=len(batch) + 2)[0]
    return [[*batch, correction(len(batch) + 1, late, {"trees_planted": 7})], [late]]


def corrected_within(batch: list[Logged]) -> list[list[Message]]:
    """New activities and a correction of one of them in the same batch."""
    return [[*batch, correction(len(batch) + 1, batch[0], {"road_km": 42})]]


def new_activities_summed(batch: Sequence[Message]) -> CopiedSums | None:
    """Sums made as if every activity of ``batch`` were new and nothing else in it: what
    a service would send that knew nothing of the read model."""
    return presum([item for item in batch if isinstance(item, Logged)])


@pytest.mark.parametrize(("stream", "all_new"), [
    (redelivered, 1), (republished, 1), (corrected_first, 0), (corrected_within, 0)])
def test_a_batch_that_is_not_all_new_is_summed_by_the_fold(
        model: ReadModel, monkeypatch: pytest.MonkeyPatch,
        stream: Callable[[list[Logged]], list[list[Message]]], all_new: int) -> None:
    """Whatever the service sent along: sums made ahead count only for a batch that adds
    new activities and nothing else (the first batch of the first two streams)."""
    _, used = twice(model, stream(varied(30, seed=8)), monkeypatch, new_activities_summed)
    assert len(used) == (0 if model.is_sqlite else all_new)


def test_a_crash_after_the_sums_made_ahead_leaves_nothing_half_applied(
        model: ReadModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sums made ahead are written in the batch's transaction: a failure after them
    takes them back with the rest, and the retry counts the batch once."""
    if model.is_sqlite:
        pytest.skip("SQLite takes no sums made ahead")
    first, second = varied(50, seed=11), varied(50, seed=12, first_seq=51)
    own = model.create_generation(PROJECTION_VERSION, active=True)
    own.apply(first)
    own.apply(second)
    ahead = model.create_generation(PROJECTION_VERSION)
    ahead.apply(first, presum(first))
    before = stored_sums(ahead)
    write = ahead._bulk.copied_sums
    assert write is not None

    def write_then_fail(conn: Any, sums: CopiedSums) -> None:
        write(conn, sums)
        raise OperationalError("COMMIT", {}, Exception("simulated crash"))

    with monkeypatch.context() as patched:
        patched.setattr(ahead._bulk, "copied_sums", write_then_fail)
        with pytest.raises(OperationalError):
            ahead.apply(second, presum(second))
    assert (stored_sums(ahead), ahead.position()) == (before, 50)  # all rolled back
    used = spy_on_copied_sums(ahead, monkeypatch)
    ahead.apply(second, presum(second))
    assert len(used) == 1  # the retry took the sums made ahead too
    assert stored_sums(ahead) == stored_sums(own)
