"""An activity's lifecycle (:mod:`cungdan_contracts.lifecycle`): the rules both services
apply to its history, on real events and without a broker or a database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cungdan_contracts import (
    INDICATORS,
    ActivityCorrected,
    ActivityLogged,
    ActivityRetracted,
    AdminMap,
    CorrectionRequest,
    Event,
    RetractionRequest,
    format_decimal,
    report_from_json,
    to_units,
)
from cungdan_contracts.lifecycle import (
    RETRACTION_PREFIX,
    Current,
    change_id,
    corrected,
    correction_refusal,
    current,
    current_measures,
    retracted,
    retraction_id,
)
from cungdan_contracts.quantities import MAX_QUANTITY

AT = dt.datetime(2025, 9, 1, 3, 0, tzinfo=dt.UTC)
ENVELOPE: dict[str, Any] = {"recorded_at": AT, "source_province": "15",
                            "map": AdminMap.LEGACY}
REPORTED: dict[str, Any] = {"road_km": "1.5", "citizen_turns": 120}


def logged(measures: Mapping[str, Any] = REPORTED) -> ActivityLogged:
    """An activity of a commune of Mù Cang Chải, as ingest logs it."""
    report = report_from_json({
        "id": str(uuid.uuid4()), "campaign": "ngay-cuoi-tuan-cung-dan", "locality": "04495",
        "date": "2023-05-06", "unit": "Ban CHQS huyện", "measures": dict(measures)})
    return ActivityLogged(activity=report, **ENVELOPE)


def correction(of: ActivityLogged, measures: Mapping[str, Any]) -> ActivityCorrected:
    return ActivityCorrected(
        activity_id=of.activity.id, campaign=of.activity.campaign,
        correction=CorrectionRequest(id=uuid.uuid4(), measures=dict(measures),
                                     reason="đo lại"), **ENVELOPE)


def retraction(of: ActivityLogged) -> ActivityRetracted:
    return ActivityRetracted(activity_id=of.activity.id, campaign=of.activity.campaign,
                             retraction=RetractionRequest(reason="báo trùng"), **ENVELOPE)


def decimals(measures: Mapping[str, Any]) -> dict[str, Decimal]:
    return {code: Decimal(str(quantity)) for code, quantity in measures.items()}


# --- ids ---------------------------------------------------------------------------------


def test_a_retraction_id_is_the_prefix_and_the_activity_id() -> None:
    activity_id = uuid.UUID("0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01")
    assert retraction_id(activity_id) == "retraction:0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01"
    assert retraction_id(str(activity_id)) == retraction_id(activity_id)
    assert RETRACTION_PREFIX == "retraction:"


def test_a_correction_counts_under_its_own_id_a_retraction_under_its_activitys() -> None:
    activity = logged()
    fix, gone = correction(activity, {"road_km": 2}), retraction(activity)
    assert change_id(fix) == str(fix.correction.id)
    assert change_id(gone) == f"retraction:{activity.activity.id}"
    assert change_id(gone) == retraction_id(activity.activity.id)
    # a second retraction of the same activity is the same change; a second correction is not
    assert change_id(retraction(activity)) == change_id(gone)
    assert change_id(correction(activity, {"road_km": 2})) != change_id(fix)


def test_only_a_retracted_activity_refuses_a_correction() -> None:
    activity_id = uuid.uuid4()
    assert correction_refusal(activity_id, retracted=True) == (
        f"activity {activity_id} was retracted; it cannot be corrected")
    assert correction_refusal(str(activity_id), retracted=True) == (
        correction_refusal(activity_id, retracted=True))
    assert correction_refusal(activity_id, retracted=False) is None


# --- the current state of one history ---------------------------------------------------


def test_a_logged_activity_counts_what_was_reported() -> None:
    activity = logged()
    assert current([activity]) == Current({"road_km": Decimal("1.5"),
                                           "citizen_turns": Decimal(120)})
    assert current_measures([activity]) == decimals(REPORTED)


def test_a_correction_replaces_the_measures_as_a_whole_set() -> None:
    activity = logged()
    history: list[Event] = [activity, correction(activity, {"road_km": "2.25"})]
    assert current_measures(history) == {"road_km": Decimal("2.25")}  # citizen_turns left out
    assert not current(history).retracted


def test_a_retraction_withdraws_every_measure() -> None:
    activity = logged()
    history: list[Event] = [activity, retraction(activity)]
    assert current(history).retracted
    assert current_measures(history) == {}


FIRST: dict[str, Any] = {"road_km": "2"}
SECOND: dict[str, Any] = {"trees_planted": 40, "road_km": "3.125"}


@pytest.mark.parametrize("order", [order for size in range(4)
                                   for order in itertools.permutations("12R", size)],
                         ids="".join)
def test_every_order_of_two_corrections_and_a_retraction(order: tuple[str, ...]) -> None:
    """The corrections made before the retraction apply, the last of them counting; the
    retraction withdraws the activity whatever follows it."""
    activity = logged()
    changes: dict[str, Event] = {"1": correction(activity, FIRST),
                                 "2": correction(activity, SECOND), "R": retraction(activity)}
    history = [activity, *(changes[key] for key in order)]
    before = order[:order.index("R")] if "R" in order else order
    corrections: dict[str, Mapping[str, Any]] = {"1": FIRST, "2": SECOND}
    last = corrections[before[-1]] if before else REPORTED
    assert current(history) == Current(decimals(last), retracted="R" in order)
    assert current_measures(history) == ({} if "R" in order else decimals(last))


def test_a_history_without_its_logged_activity_is_refused() -> None:
    activity = logged()
    with pytest.raises(ValueError, match="ActivityLogged"):
        current([])
    with pytest.raises(ValueError, match="ActivityLogged"):
        current([correction(activity, FIRST), retraction(activity)])
    with pytest.raises(ValueError, match="ActivityLogged"):
        current_measures([correction(activity, FIRST)])


def test_the_history_may_be_any_iterable() -> None:
    activity = logged()
    history: list[Event] = [activity, correction(activity, FIRST)]
    assert current_measures(iter(history)) == decimals(FIRST)


# --- the generic rules, on any dataclass state ------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Units:
    """A projector-like state: integer units, and fields the rules leave alone."""

    measures: Mapping[str, int]
    retracted: bool = False
    place: str = "04495"


def test_a_correction_keeps_the_other_fields_and_a_copy_of_the_measures() -> None:
    measures = {"road_km": 2500}
    state = corrected(Units({"road_km": 1500, "citizen_turns": 120}), measures)
    measures["road_km"] = 0
    assert state == Units({"road_km": 2500})


def test_a_retraction_is_final() -> None:
    gone = retracted(Units({"road_km": 1500}))
    assert gone == Units({"road_km": 1500}, retracted=True)
    assert corrected(gone, {"road_km": 9000}) is gone
    assert retracted(gone) is gone


def test_the_rules_leave_the_state_they_are_given_alone() -> None:
    state = Units({"road_km": 1500})
    corrected(state, {"road_km": 2500})
    retracted(state)
    assert state == Units({"road_km": 1500})


# --- properties over random histories ---------------------------------------------------


def _quantity(scale: int) -> st.SearchStrategy[Any]:
    number = st.decimals(min_value=0, max_value=MAX_QUANTITY, places=scale,
                         allow_nan=False, allow_infinity=False)
    return st.one_of(number.map(format_decimal), st.integers(0, 10**9))


@st.composite
def _measures(draw: st.DrawFn) -> dict[str, Any]:
    codes = draw(st.lists(st.sampled_from(sorted(INDICATORS)), min_size=1, max_size=6,
                          unique=True))
    return {code: draw(_quantity(INDICATORS[code].scale)) for code in codes}


@st.composite
def _histories(draw: st.DrawFn) -> tuple[ActivityLogged, list[dict[str, Any] | None]]:
    """A logged activity and its changes in order: measures of a correction, or None for
    a retraction (at most one, as the log holds)."""
    activity = logged(draw(_measures()))
    changes: list[dict[str, Any] | None] = draw(st.lists(_measures(), max_size=5))
    if draw(st.booleans()):
        changes.insert(draw(st.integers(0, len(changes))), None)
    return activity, changes


def _events(activity: ActivityLogged, changes: Sequence[dict[str, Any] | None]) -> list[Event]:
    return [activity, *(retraction(activity) if measures is None
                        else correction(activity, measures) for measures in changes)]


@settings(max_examples=100, deadline=None)
@given(_histories())
def test_the_last_correction_before_any_retraction_counts(
    history: tuple[ActivityLogged, list[dict[str, Any] | None]],
) -> None:
    activity, changes = history
    before = changes[:changes.index(None)] if None in changes else changes
    expected: Mapping[str, Any] = before[-1] or {} if before else activity.activity.measures
    state = current(_events(activity, changes))
    assert state == Current(decimals(expected), retracted=None in changes)
    assert current_measures(_events(activity, changes)) == (
        {} if None in changes else state.measures)


@settings(max_examples=100, deadline=None)
@given(_histories())
def test_integer_units_follow_the_same_history_as_decimals(
    history: tuple[ActivityLogged, list[dict[str, Any] | None]],
) -> None:
    """Folding the changes with :func:`corrected` and :func:`retracted` over another state
    (the projector's integer units) ends where :func:`current` does."""
    activity, changes = history
    events = _events(activity, changes)

    def units(measures: Mapping[str, Decimal]) -> dict[str, int]:
        return {code: to_units(q, INDICATORS[code].scale) for code, q in measures.items()}

    state = Units(units(activity.activity.measures))
    for event in events[1:]:
        if isinstance(event, ActivityCorrected):
            state = corrected(state, units(event.correction.measures))
        else:
            state = retracted(state)
    decimal_state = current(events)
    assert state == Units(units(decimal_state.measures), decimal_state.retracted)
