"""An activity's lifecycle: logged, corrected any number of times, retracted once for good.

The one home of the rules both services and any consumer apply to an activity's history:

- a correction replaces the measures as a whole set (an indicator it leaves out counts
  zero from then on);
- a retraction withdraws the activity and is final: a correction after it changes
  nothing (ingest refuses to publish one; one that raced past it is ignored);
- every change has an id that makes it count once: a correction its own id, a
  retraction :func:`retraction_id` of its activity (there is only one).

The rules are generic over what an activity's state is (decimal quantities for the
history shown to clients, integer units in the projector's totals): anything with
``measures`` and ``retracted`` fields that :func:`dataclasses.replace` can copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar
from uuid import UUID

if TYPE_CHECKING:  # the models are imported where used: the rules alone need no pydantic
    from .corrections import ActivityCorrected, ActivityRetracted
    from .events import Event

RETRACTION_PREFIX = "retraction:"


def retraction_id(activity_id: UUID | str) -> str:
    """The id that makes an activity's retraction count once (its ``Nats-Msg-Id`` too)."""
    return f"{RETRACTION_PREFIX}{activity_id}"


def change_id(event: ActivityCorrected | ActivityRetracted) -> str:
    """The id under which a change counts once: the correction's, or :func:`retraction_id`."""
    if event.type == "ActivityCorrected":  # the tag: no models imported here
        return str(event.correction.id)
    return retraction_id(event.activity_id)


def correction_refusal(activity_id: UUID | str, *, retracted: bool) -> str | None:
    """Why the activity may not be corrected any more, or None."""
    if retracted:
        return f"activity {activity_id} was retracted; it cannot be corrected"
    return None


class Standing(Protocol):
    """What a change acts on: an activity's current measures and whether it was withdrawn.

    A dataclass (the ``__dataclass_fields__`` member says so to the type checker), as
    :func:`dataclasses.replace` makes the changed copy.
    """

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @property
    def measures(self) -> Mapping[str, Any]: ...

    @property
    def retracted(self) -> bool: ...


S = TypeVar("S", bound=Standing)


def corrected(state: S, measures: Mapping[str, Any]) -> S:
    """``state`` after a correction to ``measures`` (unchanged if it was retracted)."""
    if state.retracted:
        return state
    return dataclasses.replace(state, measures=dict(measures))


def retracted(state: S) -> S:
    """``state`` withdrawn."""
    if state.retracted:
        return state
    return dataclasses.replace(state, retracted=True)


@dataclasses.dataclass(frozen=True, slots=True)
class Current:
    """An activity as its history leaves it (decimal quantities, as reported)."""

    measures: Mapping[str, Decimal]
    retracted: bool = False


def current(history: Iterable[Event]) -> Current:
    """The activity as the events of its history (in stream order) leave it.

    Raises ValueError if the history holds no ActivityLogged.
    """
    from .corrections import ActivityCorrected
    from .events import ActivityLogged

    state: Current | None = None
    pending: list[ActivityCorrected | ActivityRetracted] = []
    for event in history:
        if isinstance(event, ActivityLogged):
            state = Current(dict(event.activity.measures))
        else:
            pending.append(event)
    if state is None:
        raise ValueError("an activity's history starts with its ActivityLogged")
    for change in pending:
        if isinstance(change, ActivityCorrected):
            state = corrected(state, change.correction.measures)
        else:
            state = retracted(state)
    return state


def current_measures(history: Iterable[Event]) -> Mapping[str, Decimal]:
    """The measures that count now: the last correction's (or the report's), none once
    retracted."""
    state = current(history)
    return {} if state.retracted else state.measures
