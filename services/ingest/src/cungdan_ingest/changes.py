"""Corrections, retractions and the history of an activity: the audit trail.

A change names an activity that must already be in the log; it is routed on
the activity's map, province and campaign so downstream filters keep working,
and it is stored once: its subject begins with the correction id, or the activity id
for its single retraction, exactly as a report's subject begins with its id, and the
journal checks it in both subject layouts. A retraction is final: later corrections
are refused. Who may change an activity is decided by
the ``may_change`` check the HTTP layer passes in (the token's provinces).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from cungdan_contracts import (
    ActivityCorrected,
    ActivityLogged,
    ActivityRetracted,
    AdminMap,
    CorrectionRequest,
    Event,
    RetractionRequest,
    decode_event,
    encode_event,
    lifecycle,
)
from cungdan_contracts.subjects import (
    HEADER_MSG_ID,
    HEADER_TYPE,
    HEADER_VERSION,
    Kind,
    corrected_subject,
    correction_id_filter,
    retracted_subject,
    retraction_filter,
)

from .closures import Closing, Closures
from .journal import AlreadyStored, AppendResult, NotStored, Outgoing, Stored
from .validation import FieldProblem, problems_of

ChangeStatus = Literal["accepted", "duplicate", "rejected", "conflict", "unavailable",
                       "not_found", "forbidden", "period_closed"]
M = TypeVar("M", bound=BaseModel)
ScopeCheck = Callable[[AdminMap, str], str | None]
"""(map, province of the activity) -> why the caller may not change it, or None."""


class ChangeJournal(Protocol):
    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]: ...

    async def message_at(self, seq: int) -> bytes: ...

    async def find_id(self, kind: Kind, key: str) -> tuple[int, bytes] | None:
        """The ``kind`` event stored under ``key`` (in either subject layout)."""

    async def history(self, activity_id: str) -> list[tuple[int, bytes]]:
        """Every event about the activity, in stream order."""


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    status: ChangeStatus
    id: str | None = None
    seq: int | None = None
    problems: list[FieldProblem] = field(default_factory=list)
    closing: Closing | None = None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ChangeService:
    def __init__(self, journal: ChangeJournal,
                 clock: Callable[[], dt.datetime] = _utcnow,
                 closures: Closures | None = None) -> None:
        self._journal = journal
        self._clock = clock
        self._closures = Closures() if closures is None else closures

    async def correct(self, activity_id: UUID, raw: Any, *, reported_by: str | None = None,
                      may_change: ScopeCheck | None = None) -> ChangeOutcome:
        request = _validated(CorrectionRequest, raw)
        if isinstance(request, ChangeOutcome):
            return request
        found = await self._activity(activity_id, may_change)
        if isinstance(found, ChangeOutcome):
            return found
        retraction = await self._journal.find_id(Kind.RETRACTED, str(activity_id))
        refusal = lifecycle.correction_refusal(activity_id, retracted=retraction is not None)
        if refusal is not None:
            return ChangeOutcome("conflict", str(request.id),
                                 problems=[FieldProblem("activity", refusal)])
        event = ActivityCorrected(
            recorded_at=self._clock(), source_province=found.source_province, map=found.map,
            reported_by=reported_by, activity_id=activity_id, campaign=found.activity.campaign,
            correction=request)
        subject = corrected_subject(found.map, found.source_province, event.campaign,
                                    activity_id, request.id)
        return await self._append(event, subject, Kind.CORRECTED, str(request.id),
                                  str(request.id))

    async def retract(self, activity_id: UUID, raw: Any, *, reported_by: str | None = None,
                      may_change: ScopeCheck | None = None) -> ChangeOutcome:
        request = _validated(RetractionRequest, raw)
        if isinstance(request, ChangeOutcome):
            return request
        found = await self._activity(activity_id, may_change)
        if isinstance(found, ChangeOutcome):
            return found
        event = ActivityRetracted(
            recorded_at=self._clock(), source_province=found.source_province, map=found.map,
            reported_by=reported_by, activity_id=activity_id, campaign=found.activity.campaign,
            retraction=request)
        subject = retracted_subject(found.map, found.source_province, event.campaign,
                                    activity_id)
        return await self._append(event, subject, Kind.RETRACTED, str(activity_id),
                                  str(activity_id))

    async def history(self, activity_id: UUID) -> list[tuple[int, Event]] | None:
        """Every event about the activity in stream order, or None if it was never logged."""
        messages = await self._journal.history(str(activity_id))
        if not messages:
            return None
        return [(seq, decode_event(data)) for seq, data in messages]

    async def _activity(self, activity_id: UUID,
                        may_change: ScopeCheck | None) -> ActivityLogged | ChangeOutcome:
        try:
            found = await self._journal.find_id(Kind.LOGGED, str(activity_id))
        except Exception as exc:  # noqa: BLE001 - any broker failure: try again later
            return ChangeOutcome("unavailable", problems=[FieldProblem("(broker)", str(exc))])
        if found is None:
            return ChangeOutcome("not_found", str(activity_id), problems=[FieldProblem(
                "activity", f"no activity {activity_id} in the log")])
        event = decode_event(found[1])
        assert isinstance(event, ActivityLogged)
        refusal = may_change(event.map, event.source_province) if may_change else None
        if refusal is not None:
            return ChangeOutcome("forbidden", str(activity_id),
                                 problems=[FieldProblem("activity", refusal)])
        closing = self._closures.closed(event.map, event.source_province, event.activity.date)
        if closing is not None:
            reason = "dated " + closing.refusal(event.activity.date, event.source_province)
            return ChangeOutcome("period_closed", str(activity_id), closing=closing,
                                 problems=[FieldProblem("activity", reason, "period_closed")])
        return event

    async def _append(self, event: ActivityCorrected | ActivityRetracted, subject: str,
                      kind: Kind, key: str, answer_id: str) -> ChangeOutcome:
        """Store ``event`` once under its change id (``key`` in its subject); ``answer_id``
        names it to the client (the correction id, or the retracted activity's id)."""
        msg_id = lifecycle.change_id(event)
        id_filter = (correction_id_filter(key) if kind is Kind.CORRECTED
                     else retraction_filter(key))
        message = Outgoing(subject=subject, payload=encode_event(event), id_filter=id_filter,
                           headers={HEADER_MSG_ID: msg_id, HEADER_TYPE: event.type,
                                    HEADER_VERSION: str(event.version),
                                    "Content-Type": "application/json"},
                           key=(kind, key))
        [result] = await self._journal.append_many([message])
        match result:
            case Stored(seq):
                return ChangeOutcome("accepted", answer_id, seq)
            case NotStored(reason):
                return ChangeOutcome("unavailable", answer_id,
                                     problems=[FieldProblem("(broker)", reason)])
            case AlreadyStored(seq):
                stored = decode_event(await self._journal.message_at(seq))
                if _same_change(stored, event):
                    return ChangeOutcome("duplicate", answer_id, seq)
                return ChangeOutcome("conflict", answer_id, seq, problems=[FieldProblem(
                    "id", f"{msg_id} was already used for a different change "
                          f"(stream sequence {seq})")])


def _same_change(stored: Event, new: ActivityCorrected | ActivityRetracted) -> bool:
    if isinstance(stored, ActivityCorrected) and isinstance(new, ActivityCorrected):
        return (stored.activity_id, stored.correction) == (new.activity_id, new.correction)
    if isinstance(stored, ActivityRetracted) and isinstance(new, ActivityRetracted):
        return (stored.activity_id, stored.retraction) == (new.activity_id, new.retraction)
    return False


def _validated(model: type[M], raw: Any) -> M | ChangeOutcome:
    if not isinstance(raw, dict):
        return ChangeOutcome("rejected", problems=[FieldProblem("(body)",
                                                                "expected a JSON object")])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raw_id = raw.get("id")
        return ChangeOutcome("rejected", raw_id if isinstance(raw_id, str) else None,
                             problems=problems_of(exc))
