"""The read model store on real SQLite and PostgreSQL: exactly once, atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError
from tests.factories import event

from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_projector.rollup import contributions
from cungdan_projector.store import (
    Applicable,
    GenerationStore,
    Origin,
    ReadModel,
    Skipped,
    TotalsFilter,
    make_engine,
)

pytestmark = pytest.mark.integration
LEGACY = AdminMap.LEGACY.value


@pytest.fixture
def model(database_url: str) -> Iterator[ReadModel]:
    m = ReadModel(make_engine(database_url))
    m.create_schema()
    yield m
    m.engine.dispose()


@pytest.fixture
def store(model: ReadModel) -> GenerationStore:
    return model.create_generation(1, active=True)


def applicable(seq: int, **overrides: object) -> Applicable:
    ev = event(**overrides)
    origin = Origin(ev.map.value, ev.source_province, ev.activity.campaign, ev.recorded_at)
    return Applicable(seq, str(ev.id), contributions(ev, load_gazetteer()), origin)


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
    republished = Applicable(3, first.event_id, first.added, first.origin)  # same id at a later sequence
    result = store.apply([second, republished, applicable(4, measures={"trees_planted": 1})])
    assert (result.applied, result.already_applied, result.position) == (1, 1, 4)
    assert units(store, "VN", "trees_planted") == 16
    assert store.position() == 4


def test_same_id_twice_in_one_batch_counts_once(store: GenerationStore) -> None:
    one = applicable(1, measures={"trees_planted": 7})
    store.apply([one, Applicable(2, one.event_id, one.added, one.origin)])
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
        patched.setattr(GenerationStore, "_upsert_totals", crash)
        with pytest.raises(OperationalError):
            store.apply(batch)
    assert units(store, "VN", "houses_built") == 1  # totals and ids rolled back together
    assert store.position() == 1
    store.apply(batch)  # the retry applies the batch exactly once
    assert units(store, "VN", "houses_built") == 6
    assert store.position() == 3


def test_dead_letters_advance_the_position_and_are_kept(store: GenerationStore) -> None:
    result = store.apply([applicable(1), Skipped(2, "cungdan.activity.v1.logged.x", "not JSON"),
                          applicable(3)])
    assert (result.applied, result.skipped, result.position) == (2, 1, 3)
    letters = store.dead_letters()
    assert [(d.seq, d.reason, d.redriven_at) for d in letters] == [(2, "not JSON", None)]


def test_a_redriven_dead_letter_counts_exactly_once(store: GenerationStore) -> None:
    fixed = applicable(2, measures={"trees_planted": 9})
    store.apply([applicable(1, measures={"trees_planted": 1}),
                 Skipped(2, "cungdan.activity.v1.logged.x", "unknown contract version")])
    assert store.redrive(fixed) is True
    assert store.redrive(fixed) is False  # already re-driven: nothing happens
    assert units(store, "VN", "trees_planted") == 10
    assert store.dead_letters(pending_only=True) == []


def test_a_new_generation_serves_reads_only_once_activated(model: ReadModel,
                                                           store: GenerationStore) -> None:
    store.apply([applicable(1, measures={"trees_planted": 1})])
    fresh = model.create_generation(2)
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
    store.apply([early, late, Applicable(3, "x-late", early.added, later)])
    assert store.freshness() == [("legacy", "06", late.origin.recorded_at),
                                 ("legacy", "15", later.recorded_at)]
