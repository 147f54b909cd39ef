"""A stream message decoded into what the projection folds (:mod:`.items`).

What cannot be applied becomes a :class:`.items.DeadLetter` with its reason: a message
that is not JSON, of an unknown contract, invalid, or about a locality the gazetteer
does not know. It would fail the same way every time, so it is not retried.

Decoding runs in the projector's service process; the writer process gets the items, and
never loads the contracts' pydantic models (see :mod:`cungdan_contracts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import ValidationError

from cungdan_contracts import (
    INDICATORS,
    ActivityCorrected,
    ActivityLogged,
    ActivityLoggedV2,
    Gazetteer,
    MalformedJSONError,
    UnknownContractError,
    decode_event,
    lifecycle,
    to_units,
)
from cungdan_contracts.periods import (
    ControlTotalsSubmitted,
    PeriodClosed,
    decode_period_event,
    is_period_subject,
)

from .items import Corrected, DeadLetter, Logged, Message, Origin, PeriodMark, Retracted
from .rollup import Facts

UNDECODABLE = (MalformedJSONError, UnknownContractError, ValidationError)
"""What the contracts' decoders raise for a message that can never be applied."""


def decode(seq: int, subject: str, data: bytes, gazetteer: Gazetteer) -> Message:
    """Decode one message; what cannot be applied is kept aside with its reason."""
    if is_period_subject(subject):
        return decode_period(seq, subject, data)
    try:
        event = decode_event(data)
    except UNDECODABLE as exc:
        return undecodable(seq, subject, exc)
    if isinstance(event, ActivityLoggedV2):
        origin = Origin(event.map.value, event.source_province, event.activity.campaign,
                        event.recorded_at)
        try:
            return Logged(seq, str(event.id), facts_of(event, gazetteer), origin)
        except KeyError as exc:
            return DeadLetter(seq, subject, f"unknown locality: {exc}")
    origin = Origin(event.map.value, event.source_province, event.campaign, event.recorded_at)
    if isinstance(event, ActivityCorrected):
        return Corrected(seq, lifecycle.change_id(event), str(event.activity_id),
                         units_of(event.correction.measures), origin)
    return Retracted(seq, lifecycle.change_id(event), str(event.activity_id), origin)


def decode_period(seq: int, subject: str, data: bytes) -> PeriodMark | DeadLetter:
    """A period event's message as the projection applies it (:mod:`.closings`)."""
    try:
        event = decode_period_event(data)
    except UNDECODABLE as exc:
        return undecodable(seq, subject, exc)
    common = (event.map.value, event.province, event.period, event.closing,
              event.recorded_at, event.by)
    if isinstance(event, ControlTotalsSubmitted):
        return PeriodMark(seq, "control", *common, campaign=event.control.campaign,
                          measures=units_of(event.control.measures))
    kind = "closed" if isinstance(event, PeriodClosed) else "reopened"
    return PeriodMark(seq, kind, *common, reason=event.reason)


def undecodable(seq: int, subject: str, exc: Exception) -> DeadLetter:
    """The dead letter of a message a decoder refused with ``exc`` (one of UNDECODABLE)."""
    if isinstance(exc, MalformedJSONError):
        return DeadLetter(seq, subject, f"not JSON: {exc}")
    if isinstance(exc, UnknownContractError):
        return DeadLetter(seq, subject, f"unknown contract: {exc}")
    assert isinstance(exc, ValidationError)
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return DeadLetter(seq, subject, f"invalid event ({exc.error_count()} error(s)); "
                                    f"{where}: {first['msg']}")


def units_of(measures: Mapping[str, Decimal]) -> dict[str, int]:
    return {code: to_units(q, INDICATORS[code].scale) for code, q in measures.items()}


def facts_of(event: ActivityLogged, gazetteer: Gazetteer) -> Facts:
    """Raises KeyError for a locality the gazetteer does not know in the event's map."""
    activity = event.activity
    return Facts(event.map, gazetteer.ancestors(event.map, activity.locality),
                 activity.campaign, activity.date, units_of(activity.measures))
