"""The projection's rules, without a database: :func:`cungdan_projector.fold.plan` run by
an in-memory shell (:class:`tests.fakes.MemoryGeneration`).

The same orders and redeliveries run against SQLite and PostgreSQL in
``tests/integration/test_store.py``; here they take milliseconds.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.change_orders import ORDERS, VALUES, expected_trees
from tests.fakes import MemoryGeneration

from cungdan_contracts import AdminMap
from cungdan_contracts.lifecycle import retraction_id
from cungdan_projector import fold
from cungdan_projector.items import (
    NO_ORIGIN,
    Change,
    Corrected,
    DeadLetter,
    Logged,
    Message,
    Origin,
    Retracted,
)
from cungdan_projector.rollup import Facts, Tally, month_of

DAY = dt.date(2023, 5, 6)
PATH = ("04495", "137", "15", "VN")
CAMPAIGN = "ngay-cuoi-tuan-cung-dan"
AT = dt.datetime(2023, 5, 6, 9, tzinfo=dt.UTC)


def origin(province: str = "15", at: dt.datetime = AT) -> Origin:
    return Origin("legacy", province, CAMPAIGN, at)


def logged(seq: int, event_id: str = "a", trees: int = 10, day: dt.date = DAY) -> Logged:
    return Logged(seq, event_id, Facts(AdminMap.LEGACY, PATH, CAMPAIGN, day,
                                       {"trees_planted": trees}), origin())


def corrected(seq: int, activity: str = "a", trees: int = 20, change_id: str | None = None
              ) -> Corrected:
    return Corrected(seq, change_id or f"c-{seq}", activity, {"trees_planted": trees}, origin())


def retracted(seq: int, activity: str = "a", change_id: str | None = None) -> Retracted:
    return Retracted(seq, change_id or retraction_id(activity), activity, origin())


def trees(store: MemoryGeneration, locality: str = "VN") -> int:
    return store.total(locality, "trees_planted")


# --- every order of logged / corrected / corrected / retracted, with redeliveries ---------------



def stream_of(order: tuple[str, ...]) -> list[Message]:
    messages: list[Message] = []
    for seq, name in enumerate(order, start=1):
        if name == "L":
            messages.append(logged(seq))
        elif name == "R":
            messages.append(retracted(seq))
        else:
            messages.append(corrected(seq, trees=VALUES[name], change_id=name))
    return messages


def test_there_are_49_orders() -> None:
    assert len(ORDERS) == 49


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_of_changes_gives_exact_totals(order: tuple[str, ...]) -> None:
    store = MemoryGeneration()
    messages = stream_of(order)
    split = len(order) // 2
    store.apply(messages[:split])
    store.apply(messages[:split + 1])  # redelivery overlapping the next batch
    store.apply(messages[split:])
    store.apply(messages)  # everything again
    assert trees(store) == expected_trees(order)
    assert trees(store, "04495") == expected_trees(order)
    assert store.total("VN", "trees_planted", month_of(DAY)) == expected_trees(order)
    assert store.at == len(order)
    assert not store.parked  # every change found its activity


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_one_message_per_batch(order: tuple[str, ...]) -> None:
    store = MemoryGeneration()
    for message in stream_of(order):
        store.apply([message])
    assert trees(store) == expected_trees(order)


# --- parking -------------------------------------------------------------------------------------

def test_a_change_before_its_activity_is_parked_then_applied_when_it_arrives() -> None:
    store = MemoryGeneration()
    result = store.apply([corrected(1, trees=25)])
    assert (result.applied, trees(store), list(store.parked)) == (1, 0, [1])
    store.apply([logged(2)])
    assert trees(store) == 25
    assert not store.parked


def test_a_parked_change_is_released_once_and_its_id_stays_applied() -> None:
    store = MemoryGeneration()
    store.apply([corrected(1, trees=25, change_id="fix")])
    plan = fold.plan([logged(2)], 1, store.known(fold.needs([logged(2)])))
    assert plan.release == [1]
    assert plan.new["a"][1].measures == {"trees_planted": 25}  # stored as corrected
    store.apply([logged(2)])
    store.apply([corrected(3, trees=99, change_id="fix")])  # the same change id again
    assert trees(store) == 25


def test_a_change_and_its_activity_in_one_batch_apply_in_stream_order() -> None:
    store = MemoryGeneration()
    result = store.apply([retracted(1), corrected(2, trees=5), logged(3)])
    assert (result.applied, trees(store), store.parked) == (3, 0, {})
    assert store.activities["a"].retracted


# --- duplicates and redeliveries -----------------------------------------------------------------

def test_the_same_id_twice_in_one_batch_counts_once() -> None:
    store = MemoryGeneration()
    result = store.apply([logged(1), logged(2), corrected(3, change_id="x"),
                          corrected(4, trees=7, change_id="x")])
    assert (result.applied, result.already_applied) == (2, 2)
    assert trees(store) == 20


def test_a_republished_id_in_a_later_batch_counts_nothing() -> None:
    store = MemoryGeneration()
    store.apply([logged(1)])
    result = store.apply([logged(2, trees=500)])
    assert (result.applied, result.already_applied, result.position) == (0, 1, 2)
    assert trees(store) == 10


def test_messages_at_or_below_the_position_are_not_folded_again() -> None:
    store = MemoryGeneration()
    store.apply([logged(1), corrected(2)])
    result = store.apply([logged(1), corrected(2)])
    assert (result.applied, result.already_applied, result.position) == (0, 0, 2)
    assert trees(store) == 20


def test_a_second_retraction_changes_nothing() -> None:
    store = MemoryGeneration()
    store.apply([logged(1, trees=3), logged(2, "b", trees=10), retracted(3, "b"),
                 corrected(4, "b", trees=99)])
    store.apply([retracted(5, "b", change_id="retraction-again")])
    assert trees(store) == 3


# --- dead letters --------------------------------------------------------------------------------

def test_a_dead_letter_advances_the_position_and_counts_nothing() -> None:
    store = MemoryGeneration()
    poison = DeadLetter(2, "cungdan.activity.v2.logged.x", "not JSON")
    result = store.apply([logged(1), poison, logged(3, "b")])
    assert (result.applied, result.dead_lettered, result.position) == (2, 1, 3)
    assert store.dead_letters == [poison]
    assert trees(store) == 20
    again = store.apply([poison])  # redelivered: at or below the position
    assert (again.dead_lettered, store.dead_letters) == (0, [poison])


def test_a_batch_of_dead_letters_alone_moves_the_position() -> None:
    plan = fold.plan([DeadLetter(7, "s", "bad")], 6, fold.Known())
    assert (plan.position, plan.counted, len(plan.dead_letters)) == (7, [], 1)


# --- sums made ahead -----------------------------------------------------------------------------

def ahead_of(batch: list[Message]) -> Tally:
    tally = Tally()
    for item in batch:
        if isinstance(item, Logged):
            tally.add(item.facts)
    return tally


def test_sums_made_ahead_are_used_only_for_a_batch_of_new_activities() -> None:
    batch: list[Message] = [logged(1), logged(2, "b")]
    plan = fold.plan(batch, 0, fold.Known(), sums_ahead=True)
    assert plan.sums_ahead and not plan.tally.totals()
    assert not fold.plan(batch, 0, fold.Known(stored={"b"}), sums_ahead=True).sums_ahead
    assert not fold.plan(batch, 1, fold.Known(), sums_ahead=True).sums_ahead  # redelivered
    parked: dict[str, list[Change]] = {"a": [corrected(0)]}
    assert not fold.plan(batch, 0, fold.Known(parked=parked), sums_ahead=True).sums_ahead
    assert not fold.plan([*batch, corrected(3)], 0, fold.Known(), sums_ahead=True).sums_ahead
    assert not fold.plan(batch, 0, fold.Known()).sums_ahead


def test_the_fold_tallies_what_the_sums_made_ahead_hold() -> None:
    batch: list[Message] = [logged(1), logged(2, "b", trees=4, day=dt.date(2024, 1, 2))]
    plan = fold.plan(batch, 0, fold.Known())
    assert plan.tally.totals() == ahead_of(batch).totals()


# --- the batch result ----------------------------------------------------------------------------

def test_the_result_counts_per_source_and_keeps_the_newest_time() -> None:
    later = AT + dt.timedelta(hours=2)
    batch: list[Message] = [logged(1), Logged(2, "b", logged(2).facts, origin(at=later)),
                            Logged(3, "c", logged(3).facts, origin("06"))]
    result = fold.plan(batch, 0, fold.Known()).result()
    assert sorted(result.counted) == [("legacy", "06", CAMPAIGN, 1),
                                      ("legacy", "15", CAMPAIGN, 2)]
    assert sorted(result.latest) == [("legacy", "06", AT), ("legacy", "15", later)]


def test_changes_read_back_from_the_parked_ones_say_nothing_of_freshness() -> None:
    assert fold.latest_recorded([NO_ORIGIN]) == {}


# --- any stream, any batching: the totals are those of the lifecycle -----------------------------

EVENTS = st.lists(st.tuples(st.sampled_from(["L", "C", "R"]), st.sampled_from("abc"),
                            st.integers(0, 50)), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.lists(st.integers(1, 8), min_size=1, max_size=10), st.booleans())
def test_any_batching_with_redeliveries_gives_the_lifecycle_totals(
        events: list[tuple[str, str, int]], sizes: list[int], redeliver: bool) -> None:
    messages: list[Message] = []
    for seq, (kind, activity, value) in enumerate(events, start=1):
        if kind == "L":
            messages.append(logged(seq, activity, trees=value))
        elif kind == "C":
            messages.append(corrected(seq, activity, trees=value, change_id=f"c{seq % 4}"))
        else:
            messages.append(retracted(seq, activity))
    store = MemoryGeneration()
    start, turn = 0, 0
    while start < len(messages):
        end = start + sizes[turn % len(sizes)]
        store.apply(messages[max(0, start - 2) if redeliver else start:end])
        start, turn = end, turn + 1
    assert trees(store) == reference_trees(messages)


def reference_trees(messages: list[Message]) -> int:
    """The totals as the lifecycle defines them: an activity counts its first report; each
    change id counts once, in stream order, once its activity is there; a retraction is
    final."""
    first: dict[str, Logged] = {}
    changes: list[Change] = []
    seen: set[str] = set()
    for message in messages:
        if isinstance(message, Logged):
            first.setdefault(message.event_id, message)
        elif isinstance(message, Corrected | Retracted) and message.change_id not in seen:
            seen.add(message.change_id)
            changes.append(message)
    total = 0
    for activity_id, activity in first.items():
        value, gone = activity.facts.measures["trees_planted"], False
        for change in changes:
            if change.activity_id != activity_id or gone:
                continue
            if isinstance(change, Retracted):
                gone = True
            else:
                value = change.measures["trees_planted"]
        total += 0 if gone else value
    return total
