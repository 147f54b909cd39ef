"""A stream message decoded into what the projection folds (:mod:`.items`).

What cannot be applied becomes a :class:`.items.DeadLetter` with its reason: a message
that is not JSON, of an unknown contract, invalid, or about a locality the gazetteer
does not know. It would fail the same way every time, so it is not retried.
"""

from __future__ import annotations

from pydantic import ValidationError

from cungdan_contracts import (
    ActivityCorrected,
    ActivityLoggedV2,
    Gazetteer,
    MalformedJSONError,
    UnknownContractError,
    decode_event,
    lifecycle,
)
from cungdan_contracts.periods import is_period_subject

from .closings import decode_period
from .items import Corrected, DeadLetter, Logged, Message, Origin, Retracted
from .rollup import facts_of, units_of


def decode(seq: int, subject: str, data: bytes, gazetteer: Gazetteer) -> Message:
    """Decode one message; what cannot be applied is kept aside with its reason."""
    if is_period_subject(subject):
        return decode_period(seq, subject, data)
    try:
        event = decode_event(data)
    except MalformedJSONError as exc:
        return DeadLetter(seq, subject, f"not JSON: {exc}")
    except UnknownContractError as exc:
        return DeadLetter(seq, subject, f"unknown contract: {exc}")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return DeadLetter(seq, subject, f"invalid event ({exc.error_count()} error(s)); "
                                        f"{where}: {first['msg']}")
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
