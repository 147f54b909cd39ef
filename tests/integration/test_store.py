"""The read model store on real SQLite and PostgreSQL: exactly once, atomically."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import OperationalError
from tests.change_orders import ORDERS, VALUES, expected_trees
from tests.factories import event
from tests.integration.both_stores import active_store, read_model

from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_contracts.lifecycle import retraction_id
from cungdan_projector import engine as engine_module
from cungdan_projector import store as store_module
from cungdan_projector.decoding import facts_of
from cungdan_projector.engine import PAGE_SIZE, make_engine
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import (
    Change,
    Corrected,
    DeadLetter,
    Logged,
    Origin,
    PeriodMark,
    Retracted,
)
from cungdan_projector.reads import TotalsFilter
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.store import GenerationStore

pytestmark = pytest.mark.integration
LEGACY = AdminMap.LEGACY.value


model = pytest.fixture(name="model")(read_model)
store = pytest.fixture(name="store")(active_store)


def applicable(seq: int, **overrides: object) -> Logged:
    ev = event(**overrides)
    origin = Origin(ev.map.value, ev.source_province, ev.activity.campaign, ev.recorded_at)
    return Logged(seq, str(ev.id), facts_of(ev, load_gazetteer()), origin)


ALL = TotalsFilter()


def units(store: GenerationStore, locality: str, indicator: str, where: TotalsFilter = ALL) -> int:
    return store.model.totals(LEGACY, [locality], where)[1][locality].get(indicator, 0)


def test_a_batch_rolls_up_exactly_to_every_level(store: GenerationStore) -> None:
    batch = [
        applicable(1, measures={"road_km": "0.1"}),
        applicable(2, measures={"road_km": "0.2"}, locality="04468"),
        applicable(3, measures={"road_km": "5"}, locality="137"),
    ]
    result = store.apply(batch)
    assert (result.applied, result.position) == (3, 3)
    assert units(store, "04495", "road_km") == 100
    assert units(store, "04468", "road_km") == 200
    assert units(store, "137", "road_km") == 5300  # 0.1 + 0.2 + 5 km, in metres
    assert units(store, "15", "road_km") == 5300
    assert units(store, "VN", "road_km") == 5300
    assert store.model.totals(AdminMap.Y2025.value, ["VN"], TotalsFilter())[1]["VN"] == {}


def test_redelivered_batches_and_republished_ids_count_once(store: GenerationStore) -> None:
    first = applicable(1, measures={"trees_planted": 10})
    second = applicable(2, measures={"trees_planted": 5})
    store.apply([first, second])
    store.apply([first, second])  # redelivery of what is already applied
    republished = Logged(3, first.event_id, first.facts, first.origin)  # same id, later seq
    result = store.apply([second, republished, applicable(4, measures={"trees_planted": 1})])
    assert (result.applied, result.already_applied, result.position) == (1, 1, 4)
    assert units(store, "VN", "trees_planted") == 16
    assert store.position() == 4


def test_same_id_twice_in_one_batch_counts_once(store: GenerationStore) -> None:
    one = applicable(1, measures={"trees_planted": 7})
    store.apply([one, Logged(2, one.event_id, one.facts, one.origin)])
    assert units(store, "VN", "trees_planted") == 7
    assert store.position() == 2


def test_a_failure_mid_batch_leaves_nothing_half_applied(
    store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply([applicable(1, measures={"houses_built": 1})])

    def crash(*_: object) -> None:
        raise OperationalError("UPDATE position", {}, Exception("simulated crash"))

    batch = [applicable(2, measures={"houses_built": 2}),
             applicable(3, measures={"houses_built": 3})]
    with monkeypatch.context() as patched:
        patched.setattr(GenerationStore, "_add_sums", crash)
        with pytest.raises(OperationalError):
            store.apply(batch)
    assert units(store, "VN", "houses_built") == 1  # totals and ids rolled back together
    assert store.position() == 1
    store.apply(batch)  # the retry applies the batch exactly once
    assert units(store, "VN", "houses_built") == 6
    assert store.position() == 3


def test_dead_letters_advance_the_position_and_are_kept(store: GenerationStore) -> None:
    result = store.apply([applicable(1), DeadLetter(2, "cungdan.activity.v1.logged.x", "not JSON"),
                          applicable(3)])
    assert (result.applied, result.dead_lettered, result.position) == (2, 1, 3)
    letters = store.dead_letters()
    assert [(d.seq, d.reason, d.redriven_at) for d in letters] == [(2, "not JSON", None)]


def test_a_redriven_dead_letter_counts_exactly_once(store: GenerationStore) -> None:
    fixed = applicable(2, measures={"trees_planted": 9})
    store.apply([applicable(1, measures={"trees_planted": 1}),
                 DeadLetter(2, "cungdan.activity.v1.logged.x", "unknown contract version")])
    assert store.redrive(fixed) is True
    assert store.redrive(fixed) is False  # already re-driven: nothing happens
    assert units(store, "VN", "trees_planted") == 10
    assert store.dead_letters(pending_only=True) == []


def test_a_new_generation_serves_reads_only_once_activated(model: ReadModel,
                                                           store: GenerationStore) -> None:
    store.apply([applicable(1, measures={"trees_planted": 1})])
    fresh = model.create_generation(PROJECTION_VERSION)
    fresh.apply([applicable(1, measures={"trees_planted": 1}),
                 applicable(2, measures={"trees_planted": 5})])
    assert model.totals(LEGACY, ["VN"], ALL) == (1, {"VN": {"trees_planted": 1}})
    model.activate(fresh.number)
    model.drop_generation(store.number)
    assert model.totals(LEGACY, ["VN"], ALL) == (2, {"VN": {"trees_planted": 6}})
    assert [(g.generation, g.status) for g in model.generations()] == [(2, "active")]


def test_filters_by_campaign_indicator_and_dates(store: GenerationStore) -> None:
    store.apply([
        applicable(1, date="2023-01-15", measures={"road_km": "1", "trees_planted": 3}),
        applicable(2, date="2023-04-02", measures={"road_km": "2"}),
        applicable(3, date="2023-04-30", campaign="dan-van-kheo", measures={"road_km": "4"}),
    ])
    q2 = TotalsFilter(date_from=dt.date(2023, 4, 1), date_to=dt.date(2023, 6, 30))
    assert units(store, "137", "road_km", q2) == 6000
    ncd = TotalsFilter(campaign="ngay-cuoi-tuan-cung-dan")
    assert units(store, "137", "road_km", ncd) == 3000
    only_trees = TotalsFilter(indicator="trees_planted")
    assert store.model.totals(LEGACY, ["137"], only_trees)[1]["137"] == {"trees_planted": 3}
    position, _ = store.model.totals(LEGACY, ["137"], TotalsFilter())
    assert position == 3


def test_freshness_keeps_the_latest_report_per_province(store: GenerationStore) -> None:
    early, late = applicable(1), applicable(2, locality="01894", date="2023-02-01")
    later = Origin("legacy", "15", "dan-van-kheo",
                   early.origin.recorded_at + dt.timedelta(days=3))
    store.apply([early, late, Logged(3, "x-late", early.facts, later)])
    assert store.freshness() == [("legacy", "06", late.origin.recorded_at),
                                 ("legacy", "15", later.recorded_at)]


# --- corrections and retractions -----------------------------------------------------------

def change(seq: int, activity: Logged, measures: dict[str, int] | None,
           change_id: str | None = None) -> Change:
    """A correction (``measures`` in units) or, with ``None``, the retraction of ``activity``."""
    if measures is None:
        return Retracted(seq, change_id or retraction_id(activity.event_id), activity.event_id,
                         activity.origin)
    return Corrected(seq, change_id or f"c-{seq}", activity.event_id, measures,
                     activity.origin)


def test_a_correction_replaces_the_measures(store: GenerationStore) -> None:
    original = applicable(1, measures={"road_km": "2", "trees_planted": 10})
    store.apply([original, change(2, original, {"road_km": 2500})])
    assert units(store, "VN", "road_km") == 2500
    assert units(store, "137", "trees_planted") == 0  # left out of the new set: now zero
    store.apply([change(3, original, {"road_km": 100, "houses_built": 1})])
    assert (units(store, "04495", "road_km"), units(store, "VN", "houses_built")) == (100, 1)


def test_a_retraction_is_final(store: GenerationStore) -> None:
    kept = applicable(1, measures={"trees_planted": 1})
    gone = applicable(2, measures={"trees_planted": 10})
    store.apply([kept, gone, change(3, gone, None), change(4, gone, {"trees_planted": 99})])
    assert units(store, "VN", "trees_planted") == 1
    store.apply([change(5, gone, None, change_id="retraction-again")])
    assert units(store, "VN", "trees_planted") == 1


def test_a_redelivered_change_counts_once(store: GenerationStore) -> None:
    original = applicable(1, measures={"trees_planted": 10})
    fix = change(2, original, {"trees_planted": 7})
    store.apply([original, fix])
    store.apply([fix])  # redelivered: at or below the position
    assert isinstance(fix, Corrected)
    store.apply([Corrected(3, fix.change_id, fix.activity_id, {"trees_planted": 1}, fix.origin)])
    assert units(store, "VN", "trees_planted") == 7  # the same correction id re-published


PG_ORDERS = {("L", "C1", "C2", "R"), ("C2", "R", "L", "C1"), ("C1", "C2", "L", "R")}


def replay(database_url: str, order: tuple[str, ...]) -> GenerationStore:
    """Feed ``order`` as a stream, in overlapping batches with redeliveries."""
    model = ReadModel(make_engine(database_url))
    model.create_schema()
    store = model.create_generation(PROJECTION_VERSION, active=True)
    logged = applicable(0, measures={"trees_planted": 10})
    messages: list[Logged | Change] = []
    for seq, name in enumerate(order, start=1):
        if name == "L":
            messages.append(Logged(seq, logged.event_id, logged.facts, logged.origin))
        elif name == "R":
            messages.append(change(seq, logged, None))
        else:
            messages.append(change(seq, logged, {"trees_planted": VALUES[name]}, name))
    split = len(order) // 2
    store.apply(messages[:split])
    store.apply(messages[:split + 1])  # redelivery overlapping the next batch
    store.apply(messages[split:])
    store.apply(messages)  # everything again
    return store


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_of_changes_gives_exact_totals(tmp_path: Path,
                                                   order: tuple[str, ...]) -> None:
    """Changes may even stand in the stream before their activity (a buggy producer):
    they wait for it."""
    store = replay(f"sqlite:///{tmp_path / 'orders.sqlite3'}", order)
    assert units(store, "VN", "trees_planted") == expected_trees(order), order
    assert units(store, "137", "trees_planted") == expected_trees(order), order
    store.model.engine.dispose()


@pytest.mark.parametrize("order", sorted(PG_ORDERS), ids="-".join)
def test_orders_of_changes_on_both_stores(database_url: str, order: tuple[str, ...]) -> None:
    store = replay(database_url, order)
    assert units(store, "VN", "trees_planted") == expected_trees(order), order
    store.model.engine.dispose()


# --- how totals are stored: wide all-time and monthly rows, days from the activities -------

SPREAD = [  # (locality, date, campaign, measures): one province (15), three months and a bit
    ("04495", "2023-03-31", "ngay-cuoi-tuan-cung-dan", {"road_km": "1.5", "trees_planted": 3}),
    ("04495", "2023-04-01", "ngay-cuoi-tuan-cung-dan", {"road_km": "2"}),
    ("04468", "2023-04-15", "dan-van-kheo", {"road_km": "0.25", "houses_built": 1}),
    ("137", "2023-04-30", "ngay-cuoi-tuan-cung-dan", {"trees_planted": 40}),
    ("04495", "2023-05-01", "dan-van-kheo", {"workdays": 12}),
    ("04468", "2023-05-17", "ngay-cuoi-tuan-cung-dan", {"road_km": "3.125"}),
    ("04495", "2023-06-30", "ngay-cuoi-tuan-cung-dan", {"houses_built": 2, "workdays": 5}),
    ("01894", "2023-05-02", "ngay-cuoi-tuan-cung-dan", {"road_km": "7"}),  # province 06
]
RANGES = [(None, None), ("2023-04-01", "2023-04-30"), ("2023-04-02", "2023-05-16"),
          ("2023-03-31", "2023-03-31"), ("2023-04-15", None), (None, "2023-05-01"),
          ("2023-03-01", "2023-06-30"), ("2023-04-30", "2023-05-01"), ("2024-01-01", None),
          ("2023-05-17", "2023-06-29")]


@pytest.mark.parametrize(("date_from", "date_to"), RANGES)
@pytest.mark.parametrize("campaign", [None, "ngay-cuoi-tuan-cung-dan"])
@pytest.mark.parametrize("indexed", [False, True], ids=["catching-up", "caught-up"])
def test_any_date_range_sums_exactly_what_fell_in_it(
        store: GenerationStore, date_from: str | None, date_to: str | None,
        campaign: str | None, indexed: bool) -> None:
    activities = [applicable(seq, locality=loc, date=day, campaign=camp, measures=measures)
                  for seq, (loc, day, camp, measures) in enumerate(SPREAD, start=1)]
    corrected = change(len(activities) + 1, activities[2], {"road_km": 500})
    gone = change(len(activities) + 2, activities[4], None)
    store.apply([*activities, corrected, gone])
    if indexed:  # else the days that cut through a month are summed by a scan
        store.build_deferred_indexes()
    lo = dt.date.fromisoformat(date_from) if date_from else dt.date.min
    hi = dt.date.fromisoformat(date_to) if date_to else dt.date.max
    current = {a.event_id: dict(a.facts.measures) for a in activities}
    current[activities[2].event_id] = {"road_km": 500}
    del current[activities[4].event_id]
    codes = ["15", "137", "04495", "04468", "VN"]
    expected: dict[str, dict[str, int]] = {code: {} for code in codes}
    for a in activities:
        if (a.event_id in current and lo <= a.facts.day <= hi
                and campaign in (None, a.facts.campaign)):
            for code in set(a.facts.path) & set(codes):
                for indicator, amount in current[a.event_id].items():
                    expected[code][indicator] = expected[code].get(indicator, 0) + amount
    where = TotalsFilter(campaign, None, lo if date_from else None, hi if date_to else None)
    in_province = ["15", "137", "04495", "04468"]
    _, sums = store.model.totals(LEGACY, in_province, where, province="15")
    assert sums == {code: expected[code] for code in in_province}
    _, nation = store.model.totals(LEGACY, ["VN"], where)
    assert nation == {"VN": expected["VN"]}  # the whole map: province 06 too


def test_an_indicator_added_to_the_catalog_becomes_a_column_on_start(
        model: ReadModel, store: GenerationStore) -> None:
    """Simulates the catalog growing: the tables lack an indicator the code knows."""
    with model.writing() as conn:
        for table in (store.tables.totals, store.tables.monthly, store.tables.activities):
            conn.execute(text(f'ALTER TABLE {table.name} DROP COLUMN "models_recognised"'))
    assert model.upgrade() == model.active()
    store = model.generation(store.number)
    store.apply([applicable(1, measures={"models_recognised": 7, "workdays": 2})])
    assert units(store, "15", "models_recognised") == 7
    assert units(store, "15", "models_recognised", TotalsFilter(date_from=dt.date(2023, 5, 6),
                                                                 date_to=dt.date(2023, 5, 6))) == 7


def test_a_generation_of_an_older_layout_is_replaced_by_an_empty_one(model: ReadModel) -> None:
    model.create_generation(2, active=True)
    upgraded = model.upgrade()
    assert upgraded is not None and upgraded.version == 3 and upgraded.position == 0
    assert [(g.generation, g.status) for g in model.generations()] == [(2, "active")]
    store = model.generation(2)
    store.apply([applicable(1, measures={"workdays": 2})])
    assert units(store, "VN", "workdays") == 2


def test_ids_republished_in_a_big_batch_are_all_recognised(store: GenerationStore) -> None:
    """More ids than one lookup takes (chunks of 500 on SQLite, one array on PostgreSQL)."""
    first = [applicable(seq, measures={"workdays": 1}) for seq in range(1, 1202)]
    assert store.apply(first).applied == 1201
    again = [Logged(seq + 1201, a.event_id, a.facts, a.origin) for seq, a in enumerate(first, 1)]
    result = store.apply([*again, applicable(2403, measures={"workdays": 5})])
    assert (result.applied, result.already_applied, result.position) == (1, 1201, 2403)
    assert units(store, "VN", "workdays") == 1206


def test_a_new_sqlite_read_model_has_big_pages_and_an_old_one_keeps_its_own(
        tmp_path: Path) -> None:
    fresh = ReadModel(make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}"))
    fresh.create_schema()
    old_path = tmp_path / "old.sqlite3"
    with sqlite3.connect(old_path) as conn:  # made by an earlier version: 4 KiB pages
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE earlier (x INTEGER)")
    old = ReadModel(make_engine(f"sqlite:///{old_path}"))
    old.create_schema()
    for model, size in ((fresh, PAGE_SIZE), (old, 4096)):
        store = model.create_generation(PROJECTION_VERSION, active=True)
        store.apply([applicable(1, measures={"houses_built": 2})])
        assert units(store, "VN", "houses_built") == 2
        with model.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == size
        model.engine.dispose()


def activity_indexes(store: GenerationStore) -> set[str]:
    with store.model.engine.connect() as conn:
        return {str(i["name"]) for i in
                inspect(conn).get_indexes(store.tables.activities.name)}


def test_the_by_day_index_is_built_once_caught_up_not_with_the_table(
        model: ReadModel, store: GenerationStore) -> None:
    by_day = f"activities_g{store.number}_by_day"
    assert by_day not in activity_indexes(store)  # a new generation fills without it
    store.apply([applicable(1, date="2023-04-02", measures={"road_km": "2"})])
    store.build_deferred_indexes()
    store.build_deferred_indexes()  # again: nothing to do
    assert by_day in activity_indexes(store)
    pending = store.tables.pending.c.activity_id
    assert any(pending.name in i["column_names"] for i in inspect(model.engine).get_indexes(
        store.tables.pending.name))  # the other indexes come with their tables
    store.apply([applicable(2, date="2023-04-03", measures={"road_km": "1"})])
    april_2nd_3rd = TotalsFilter(date_from=dt.date(2023, 4, 2), date_to=dt.date(2023, 4, 3))
    assert units(store, "137", "road_km", april_2nd_3rd) == 3000


def test_a_generation_still_filling_builds_the_by_day_index_for_its_first_closing(
        store: GenerationStore) -> None:
    """A closing reads by it (``closings._freeze``): without it, each closing in a rebuild
    scanned every activity so far."""
    by_day = f"activities_g{store.number}_by_day"
    store.apply([applicable(1, date="2023-04-02", measures={"road_km": "2"}),
                 applicable(2, date="2023-05-02", measures={"road_km": "1"})])
    assert by_day not in activity_indexes(store)
    at = dt.datetime(2023, 5, 3, tzinfo=dt.UTC)
    store.apply([PeriodMark(3, "closed", LEGACY, "15", "2023-04", 1, at, "tester", "done"),
                 applicable(4, date="2023-04-03", measures={"road_km": "4"})])
    assert by_day in activity_indexes(store)  # built on the rows so far, kept up after
    t = store.tables.closing_totals
    with store.model.engine.connect() as conn:
        frozen = dict(conn.execute(select(t.c.locality, t.c.road_km)).all())
    assert frozen == {"15": 2000, "137": 2000, "04495": 2000}  # April before the closing
    assert units(store, "15", "road_km") == 7000


def test_a_catching_up_batch_leaves_the_wal_to_grow_and_a_live_one_checkpoints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of at least CATCH_UP_BATCH events commit under the catch-up checkpoint
    interval, so the WAL grows across them; the next live commit checkpoints, and the
    write after it starts the WAL again, cut back to the live size."""
    monkeypatch.setattr(engine_module, "WAL_CHECKPOINT_BYTES", 2 * PAGE_SIZE)
    monkeypatch.setattr(engine_module, "CATCH_UP_WAL_CHECKPOINT_BYTES", 1 << 30)
    monkeypatch.setattr(store_module, "CATCH_UP_BATCH", 1_000)
    path = tmp_path / "readmodel.sqlite3"
    model = ReadModel(make_engine(f"sqlite:///{path}"))
    model.create_schema()
    gen = model.create_generation(PROJECTION_VERSION, active=True)
    wal = Path(f"{path}-wal")
    seqs = itertools.count(1)

    def batch(size: int) -> list[Logged]:
        return [applicable(next(seqs), measures={"workdays": 1}) for _ in range(size)]

    gen.apply(batch(1_500))
    first = wal.stat().st_size
    gen.apply(batch(1_000))  # fewer pages: the WAL grows only if the first stayed in it
    grown = wal.stat().st_size
    assert grown > first > 20 * PAGE_SIZE
    gen.apply(batch(1))  # live: its commit copies the WAL back
    gen.apply(batch(1))  # which lets this one start the WAL again, cut back
    assert wal.stat().st_size < first
    assert units(gen, "VN", "workdays") == 2_502
    model.engine.dispose()
