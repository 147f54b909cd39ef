"""Rollup rules (what an event adds to which totals) and reporting periods. Pure."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from cungdan_contracts import (
    NATION,
    AdminMap,
    Gazetteer,
    from_units,
    load_gazetteer,
    loads_exact,
    map_for_date,
)
from cungdan_contracts import (
    ActivityLoggedV1 as ActivityLogged,
)
from cungdan_contracts import (
    ActivityReportV1 as ActivityReport,
)
from cungdan_contracts.lifecycle import corrected, retracted
from cungdan_projector import rollup
from cungdan_projector.decoding import facts_of
from cungdan_projector.periods import period_range, plan_range
from cungdan_projector.rollup import CONVERTED, UNATTRIBUTED, Facts, TotalKey

LEGACY, Y2025 = AdminMap.LEGACY, AdminMap.Y2025
CAMPAIGN = "ngay-cuoi-tuan-cung-dan"
RECORDED_AT = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)


def contributions(ev: ActivityLogged, gazetteer: Gazetteer) -> Counter[TotalKey]:
    return rollup.contributions(facts_of(ev, gazetteer))  # type: ignore[arg-type]


def aggregate(events: list[ActivityLogged], gazetteer: Gazetteer) -> Counter[TotalKey]:
    return rollup.aggregate(facts_of(e, gazetteer) for e in events)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def event(locality: str, day: dt.date, measures: dict[str, Any],
          campaign: str = CAMPAIGN) -> ActivityLogged:
    """An event as ingest would build it: the map is the one in force on ``day``."""
    admin_map = map_for_date(day)
    report = ActivityReport.model_validate({
        "id": str(uuid.uuid4()), "campaign": campaign, "locality": locality,
        "date": day.isoformat(), "unit": "Huyện ủy", "measures": measures})
    province = load_gazetteer().province_of(admin_map, locality)
    return ActivityLogged(recorded_at=RECORDED_AT, source_province=province, map=admin_map,
                          activity=report)


def keys(admin_map: AdminMap, localities: tuple[str, ...], indicator: str, day: dt.date,
         units: int, campaign: str = CAMPAIGN, *,
         entry: tuple[str, str] | None = None) -> Counter[TotalKey]:
    """The keys of an activity's contributions: its map's path, and a legacy activity's
    ``entry`` on the 2025 map."""
    found = Counter({TotalKey(admin_map, loc, campaign, indicator, day): units
                     for loc in localities})
    if entry:
        found[TotalKey(*entry, campaign, indicator, day)] = units
    return found


DAY_2023 = dt.date(2023, 4, 15)
DAY_2025 = dt.date(2025, 8, 1)


def test_legacy_commune_event_adds_to_commune_district_province_and_nation(
        gazetteer: Gazetteer) -> None:
    added = contributions(event("04495", DAY_2023, {"road_km": "3.5"}), gazetteer)
    assert added == keys(LEGACY, ("04495", "137", "15", NATION), "road_km", DAY_2023, 3500,
                         entry=(CONVERTED, "04492"))  # Nậm Khắt became part of Púng Luông


def test_legacy_district_event_adds_to_district_province_and_nation_only(
        gazetteer: Gazetteer) -> None:
    added = contributions(event("137", DAY_2023, {"houses_built": 98}), gazetteer)
    assert added == keys(LEGACY, ("137", "15", NATION), "houses_built", DAY_2023, 98,
                         entry=(UNATTRIBUTED, "137"))
    assert not any(len(k.locality) == 5 for k in added)


def test_province_and_nation_events(gazetteer: Gazetteer) -> None:
    assert contributions(event("38", DAY_2023, {"models_recognised": 7}), gazetteer) == keys(
        LEGACY, ("38", NATION), "models_recognised", DAY_2023, 7, entry=(UNATTRIBUTED, "38"))
    assert contributions(event(NATION, DAY_2025, {"workdays": 1}), gazetteer) == keys(
        Y2025, (NATION,), "workdays", DAY_2025, 1)


def test_2025_commune_event_adds_to_commune_province_and_nation(gazetteer: Gazetteer) -> None:
    added = contributions(event("04492", DAY_2025, {"trees_planted": 15000}), gazetteer)
    assert added == keys(Y2025, ("04492", "15", NATION), "trees_planted", DAY_2025, 15000)


def test_same_code_rolls_up_in_its_own_map(gazetteer: Gazetteer) -> None:
    before = contributions(event("05611", dt.date(2025, 6, 30), {"cleanup_sessions": 1}),
                           gazetteer)
    after = contributions(event("05611", dt.date(2025, 7, 1), {"cleanup_sessions": 1}),
                          gazetteer)
    assert {(k.map, k.locality) for k in before} == {
        (LEGACY, "05611"), (LEGACY, "168"), (LEGACY, "19"), (LEGACY, NATION),
        (CONVERTED, "05611")}  # Đu township became part of Phú Lương commune, same code
    assert {(k.map, k.locality) for k in after} == {
        (Y2025, "05611"), (Y2025, "19"), (Y2025, NATION)}


def test_units_are_scaled_per_indicator(gazetteer: Gazetteer) -> None:
    added = contributions(event("137", DAY_2023, {
        "road_km": "1.5", "terraced_field_ha": "150", "donations_vnd": 2400000000,
        "workdays": "500.0", "cement_tonnes": "2110.125"}), gazetteer)
    at_district = {k.indicator: v for k, v in added.items() if k.locality == "137"}
    assert at_district == {"road_km": 1500, "terraced_field_ha": 1500000,
                           "donations_vnd": 2400000000, "workdays": 500,
                           "cement_tonnes": 2110125}
    assert len(added) == 5 * 4  # district, province, nation, its 2025 entry
    assert all(isinstance(v, int) for v in added.values())


def test_zero_quantity_contributes_zero(gazetteer: Gazetteer) -> None:
    added = contributions(event("137", DAY_2023, {"workdays": 0}), gazetteer)
    assert set(added.values()) == {0}
    assert len(added) == 4


def test_unknown_locality_raises(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError):
        contributions(event("99999", DAY_2023, {"workdays": 1}), gazetteer)


def test_aggregate_sums_decimals_exactly(gazetteer: Gazetteer) -> None:
    summed = aggregate([event("04495", DAY_2023, loads_exact('{"road_km": 0.1}')),
                        event("04495", DAY_2023, loads_exact('{"road_km": 0.2}'))], gazetteer)
    for loc in ("04495", "137", "15", NATION):
        units = summed[TotalKey(LEGACY, loc, CAMPAIGN, "road_km", DAY_2023)]
        assert units == 300
        assert from_units(units, 3) == Decimal("0.3")
    assert len(summed) == 5


def test_aggregate_rolls_communes_into_their_district(gazetteer: Gazetteer) -> None:
    # seed 001: the district military built ~6 km of road in Nậm Khắt and Mồ Dề
    summed = aggregate([
        event("04495", DAY_2023, {"road_km": "3.5"}),
        event("04468", DAY_2023, {"road_km": "2.5", "workdays": 40}),
        event("137", DAY_2023, {"road_km": "11"}),
        event("04495", DAY_2023 + dt.timedelta(days=1), {"road_km": "1"}),
        event("04495", DAY_2023, {"road_km": "0.25"}, campaign="xay-dung-nong-thon-moi"),
    ], gazetteer)

    def total(loc: str, indicator: str = "road_km", day: dt.date = DAY_2023,
              campaign: str = CAMPAIGN) -> int:
        return summed[TotalKey(LEGACY, loc, campaign, indicator, day)]

    assert total("04495") == 3500
    assert total("04468") == 2500
    assert total("137") == 17000
    assert total("15") == 17000
    assert total(NATION) == 17000
    assert total("137", "workdays") == 40
    assert total("137", day=DAY_2023 + dt.timedelta(days=1)) == 1000
    assert total("15", campaign="xay-dung-nong-thon-moi") == 250


def test_aggregate_of_nothing_is_empty(gazetteer: Gazetteer) -> None:
    assert aggregate([], gazetteer) == Counter()


# --- corrections and retractions ------------------------------------------------------------


def moved(before: Facts, after: Facts) -> Counter[TotalKey]:
    """How the totals move from ``before`` to ``after``: new contributions minus old."""
    difference = rollup.contributions(after)
    difference.subtract(rollup.contributions(before))
    return Counter({key: units for key, units in difference.items() if units})


def test_a_correction_moves_totals_by_the_difference(gazetteer: Gazetteer) -> None:
    facts = facts_of(event("04495", DAY_2023, {"road_km": "2", "workdays": 10}),  # type: ignore[arg-type]
                     gazetteer)
    after = corrected(facts, {"road_km": 2500, "houses_built": 1})
    change = moved(facts, after)
    key = TotalKey(LEGACY, "137", CAMPAIGN, "road_km", DAY_2023)
    assert change[key] == 500
    assert change[TotalKey(LEGACY, "VN", CAMPAIGN, "workdays", DAY_2023)] == -10
    assert change[TotalKey(LEGACY, "15", CAMPAIGN, "houses_built", DAY_2023)] == 1
    assert after.measures == {"road_km": 2500, "houses_built": 1}
    assert rollup.contributions(facts) + change == rollup.contributions(after)


def test_a_retraction_takes_everything_away_and_is_final(gazetteer: Gazetteer) -> None:
    facts = facts_of(event("137", DAY_2023, {"houses_built": 98}), gazetteer)  # type: ignore[arg-type]
    after = retracted(facts)
    change = moved(facts, after)
    assert set(change.values()) == {-98}
    assert len(change) == 4
    assert after.retracted and rollup.contributions(after) == Counter()
    again = corrected(after, {"houses_built": 5})
    assert again == after and moved(after, again) == Counter()


def test_facts_keep_the_rollup_path(gazetteer: Gazetteer) -> None:
    facts = facts_of(event("04492", DAY_2025, {"trees_planted": 3}), gazetteer)  # type: ignore[arg-type]
    assert facts == Facts(AdminMap.Y2025, ("04492", "15", NATION), CAMPAIGN, DAY_2025,
                          {"trees_planted": 3})


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(("period", "first", "last"), [
    ("2023", dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
    ("2023-Q1", dt.date(2023, 1, 1), dt.date(2023, 3, 31)),
    ("2023-Q2", dt.date(2023, 4, 1), dt.date(2023, 6, 30)),
    ("2023-Q3", dt.date(2023, 7, 1), dt.date(2023, 9, 30)),
    ("2023-Q4", dt.date(2023, 10, 1), dt.date(2023, 12, 31)),
    ("2023-01", dt.date(2023, 1, 1), dt.date(2023, 1, 31)),
    ("2023-04", dt.date(2023, 4, 1), dt.date(2023, 4, 30)),
    ("2023-12", dt.date(2023, 12, 1), dt.date(2023, 12, 31)),
    ("2023-02", dt.date(2023, 2, 1), dt.date(2023, 2, 28)),
    ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
    ("2000-02", dt.date(2000, 2, 1), dt.date(2000, 2, 29)),
    ("2100-02", dt.date(2100, 2, 1), dt.date(2100, 2, 28)),
    ("2024-Q1", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
])
def test_period_range(period: str, first: dt.date, last: dt.date) -> None:
    assert period_range(period) == (first, last)


@pytest.mark.parametrize("period", [
    "", "23", "20231", "2023-13", "2023-00", "2023-4", "2023-Q0", "2023-Q5", "2023-q2",
    "2023-04-01", "2023/04", " 2023", "2023 ", "Q2-2023", "2023-Q", "abcd",
])
def test_invalid_periods(period: str) -> None:
    with pytest.raises(ValueError, match="is not a period"):
        period_range(period)


def test_period_with_trailing_newline_is_invalid() -> None:
    with pytest.raises(ValueError, match="is not a period"):
        period_range("2023\n")


def test_period_with_non_ascii_digits_is_invalid() -> None:
    with pytest.raises(ValueError, match="is not a period"):
        period_range("２０２３")


# --- the stored shape: wide rows, all-time and per month ------------------------------------

def test_a_tally_holds_the_contributions_summed_by_month_and_overall(
        gazetteer: Gazetteer) -> None:
    events = [event("04495", DAY_2023, {"road_km": "3.5", "trees_planted": 2}),
              event("04468", dt.date(2023, 4, 2), {"road_km": "0.5"}),
              event("137", dt.date(2023, 5, 1), {"houses_built": 3}, campaign="dan-van-kheo"),
              event("04492", DAY_2025, {"trees_planted": 15000})]
    gone = retracted(facts_of(events[1], gazetteer))
    tally = rollup.Tally()
    for e in events:
        tally.add(facts_of(e, gazetteer))
    tally.add(facts_of(events[1], gazetteer), -1)  # what a retraction does
    tally.add(gone)  # adds nothing: retracted
    expected: Counter[tuple[str, str, int, str, str]] = Counter()
    for key, units in aggregate([events[0], events[2], events[3]], gazetteer).items():
        months = (rollup.OVERALL,) if key.map in (CONVERTED, UNATTRIBUTED) else (
            rollup.OVERALL, rollup.month_of(key.day))
        for month in months:
            expected[(str(key.map), key.locality, month, key.campaign, key.indicator)] += units
    stored = Counter({(*key, code): units for key, amounts in tally.totals().items()
                      for code, units in amounts.items()})
    assert stored == expected
    assert ("legacy", "04468", 202304, CAMPAIGN) not in tally.totals()  # nets to zero


@pytest.mark.parametrize("seed", range(40))
def test_a_range_plan_covers_each_day_exactly_once(seed: int) -> None:
    import random
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    lo = start + dt.timedelta(days=rng.randrange(400))
    hi = lo + dt.timedelta(days=rng.choice([0, 1, 27, 30, 31, 45, 90, 200]))
    date_from = None if seed % 7 == 0 else lo
    date_to = None if seed % 5 == 0 else hi
    plan = plan_range(date_from, date_to)
    window = [start + dt.timedelta(days=n) for n in range(800)]
    covered = Counter(day for day in window for first, last in plan.days if first <= day <= last)
    if plan.months is not None:
        first_month, last_month = plan.months
        covered.update(day for day in window
                       if (first_month is None or rollup.month_of(day) >= first_month)
                       and (last_month is None or rollup.month_of(day) <= last_month))
    wanted = {day for day in window
              if (date_from is None or day >= date_from) and (date_to is None or day <= date_to)}
    assert set(covered) == wanted and set(covered.values()) <= {1}
    assert len(plan.days) <= 2
