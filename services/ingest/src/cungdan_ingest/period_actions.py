"""Closing and reopening a province's reporting period, and its control totals.

Each is an event on the stream (:mod:`cungdan_contracts.periods`), stored once under its
closing number: the Nth closing of a (map, province, period) has a subject of its own,
and the journal's once-only check makes two concurrent closes of the same number one
event (the second is answered as the duplicate or the conflict it is). What is closed now
is read from the stream itself (the last closing and the last reopening of the period, by
subject), not from ingest's index, so it is exact even just after another close.

The rules (who may do what, what the state allows) are the pure :func:`decide_close`,
:func:`decide_reopen` and :func:`decide_control`; :class:`PeriodService` is the shell.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from cungdan_contracts import NATION, AdminMap, Gazetteer, encode_event
from cungdan_contracts.periods import (
    ControlTotalsRequest,
    ControlTotalsSubmitted,
    PeriodClosed,
    PeriodEvent,
    PeriodReopened,
    PeriodRequest,
    decode_period_event,
    default_map,
    msg_id,
    once_filter,
    period_filter,
    period_range,
    period_subject,
)
from cungdan_contracts.subjects import HEADER_MSG_ID, HEADER_TYPE, HEADER_VERSION
from cungdan_service.auth import Principal, Role, scope_refusal

from .closures import Closing
from .journal import AlreadyStored, AppendResult, NotStored, Outgoing, Stored
from .validation import FieldProblem, problems_of

log = logging.getLogger("cungdan.ingest")

APPLIED_WAIT_SECONDS = 5.0
"""How long an answer waits for this ingest's index of closings to hold the event it stored
(so the next report is judged by it); past it, the answer goes anyway (the event is stored)."""

PeriodStatus = Literal["accepted", "duplicate", "rejected", "forbidden", "closed", "open",
                       "conflict", "unavailable"]


class PeriodJournal(Protocol):
    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]: ...

    async def message_at(self, seq: int) -> bytes: ...

    async def last_on(self, subject_filter: str) -> tuple[int, bytes] | None: ...

    async def events_on(self, subject_filter: str) -> list[tuple[int, bytes]]: ...


@dataclass(frozen=True, slots=True)
class PeriodOutcome:
    status: PeriodStatus
    seq: int | None = None
    event: PeriodEvent | None = None
    problems: list[FieldProblem] = field(default_factory=list)
    closing: Closing | None = None
    """The closing in force (for a refusal that names it)."""


@dataclass(frozen=True, slots=True)
class Target:
    """The period a request is about, checked."""

    province: str
    map: AdminMap
    period: str


@dataclass(frozen=True, slots=True)
class State:
    """The period's last closing and last reopening in the stream, with their sequences."""

    closed: tuple[int, PeriodClosed] | None = None
    reopened: tuple[int, PeriodReopened] | None = None

    @property
    def is_closed(self) -> bool:
        return self.closed is not None and (
            self.reopened is None or self.reopened[1].closing < self.closed[1].closing)

    @property
    def closings(self) -> int:
        return self.closed[1].closing if self.closed else 0


def target_of(province: str, period: str, map_value: str | None,
              gazetteer: Gazetteer) -> Target | list[FieldProblem]:
    """The period named by a request's path and ``map`` query, or what is wrong with it."""
    problems: list[FieldProblem] = []
    try:
        period_range(period)
    except ValueError as exc:
        return [FieldProblem("period", str(exc), "invalid_period")]
    if map_value is None:
        admin_map = default_map(period)
    else:
        try:
            admin_map = AdminMap(map_value)
        except ValueError:
            return [FieldProblem("map", f"'{map_value}' is no map (use "
                                        f"{', '.join(m.value for m in AdminMap)})",
                                 "invalid_map")]
    provinces = {p.code for p in gazetteer.children(admin_map, NATION)}
    if province not in provinces:
        problems.append(FieldProblem("province", f"'{province}' is no province of the "
                                                 f"{admin_map.value} map", "unknown_locality"))
    return problems or Target(province, admin_map, period)


# --- the rules (pure) ---------------------------------------------------------------------


def decide_close(caller: Principal | None, target: Target, state: State) -> PeriodOutcome | None:
    """A refusal of closing the period, or None: close it (as closing number
    ``state.closings + 1``)."""
    if caller is not None and (reason := scope_refusal(
            caller, Role.APPROVE, target.map, target.province)) is not None:
        return PeriodOutcome("forbidden", problems=[FieldProblem("province", reason)])
    if state.is_closed:
        assert state.closed is not None
        return PeriodOutcome("closed", closing=Closing.of(*state.closed))
    return None


def decide_reopen(caller: Principal | None, target: Target,
                  state: State) -> PeriodOutcome | None:
    """A refusal of reopening, or None: reopen closing ``state.closings``."""
    if caller is not None and not caller.national_admin:
        return PeriodOutcome("forbidden", problems=[FieldProblem(
            "province", f"token '{caller.name}' is no national admin: only an admin token of "
                        f"the whole nation ({NATION}) may reopen a period")])
    if not state.is_closed:
        return PeriodOutcome("open", problems=[FieldProblem(
            "period", f"period {target.period} of province {target.province} "
                      f"({target.map.value} map) is not closed")])
    return None


def decide_control(caller: Principal | None, target: Target,
                   state: State) -> PeriodOutcome | None:
    """A refusal of control totals, or None: take them for closing ``state.closings``."""
    if caller is not None and (reason := scope_refusal(
            caller, Role.APPROVE, target.map, target.province)) is not None:
        return PeriodOutcome("forbidden", problems=[FieldProblem("province", reason)])
    if not state.is_closed:
        return PeriodOutcome("open", problems=[FieldProblem(
            "period", f"control totals are for a closed period; period {target.period} of "
                      f"province {target.province} ({target.map.value} map) is not closed")])
    return None


def same_request(stored: PeriodEvent, new: PeriodEvent) -> bool:
    """Whether ``stored`` is what ``new`` asks for (the same request sent again)."""
    if type(stored) is not type(new) or stored.closing != new.closing:
        return False
    if isinstance(stored, ControlTotalsSubmitted) and isinstance(new, ControlTotalsSubmitted):
        return stored.control == new.control
    assert isinstance(stored, PeriodClosed | PeriodReopened)
    assert isinstance(new, PeriodClosed | PeriodReopened)
    return (stored.reason, stored.by) == (new.reason, new.by)


# --- the shell ----------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PeriodService:
    def __init__(self, journal: PeriodJournal, gazetteer: Gazetteer,
                 clock: Callable[[], dt.datetime] = _utcnow,
                 applied: Callable[[int], Awaitable[None]] | None = None) -> None:
        """``applied(seq)``: returns once the closings index holds the event at ``seq``."""
        self._journal = journal
        self._gazetteer = gazetteer
        self._clock = clock
        self._applied = applied

    async def _until_applied(self, seq: int) -> None:
        """Read your writes: a close answered 202 refuses this ingest's next report into it."""
        if self._applied is None:
            return
        try:
            async with asyncio.timeout(APPLIED_WAIT_SECONDS):
                await self._applied(seq)
        except TimeoutError:
            log.warning("period event %d stored, not yet in the closings index after %.0f s",
                        seq, APPLIED_WAIT_SECONDS)

    def target(self, province: str, period: str,
               map_value: str | None) -> Target | list[FieldProblem]:
        return target_of(province, period, map_value, self._gazetteer)

    async def state(self, target: Target) -> State:
        base = period_filter(target.province, target.map, target.period).removesuffix(">")
        closed = await self._journal.last_on(f"{base}closed.>")
        reopened = await self._journal.last_on(f"{base}reopened.>")
        state = State()
        if closed is not None:
            event = decode_period_event(closed[1])
            assert isinstance(event, PeriodClosed)
            state = State(closed=(closed[0], event))
        if reopened is not None:
            event = decode_period_event(reopened[1])
            assert isinstance(event, PeriodReopened)
            state = State(state.closed, (reopened[0], event))
        return state

    async def _asked(self, model: type[M], raw: Any,
                     target: Target) -> tuple[M, State] | PeriodOutcome:
        """The request's body read as ``model``, and the period's state from the stream; or
        the refusal (422) or the broker's failure (503)."""
        request = _validated(model, raw)
        if isinstance(request, PeriodOutcome):
            return request
        try:
            return request, await self.state(target)
        except Exception as exc:  # noqa: BLE001 - any broker failure: try again later
            return _unavailable(exc)

    async def close(self, target: Target, raw: Any, caller: Principal | None) -> PeriodOutcome:
        asked = await self._asked(PeriodRequest, raw, target)
        if isinstance(asked, PeriodOutcome):
            return asked
        request, state = asked
        event = PeriodClosed(recorded_at=self._clock(), province=target.province,
                             map=target.map, period=target.period, closing=state.closings + 1,
                             by=caller.name if caller else None, reason=request.reason)
        refusal = decide_close(caller, target, state)
        if refusal is not None:
            if refusal.status == "closed" and state.closed is not None and same_request(
                    state.closed[1], event.model_copy(update={"closing": state.closings})):
                return PeriodOutcome("duplicate", state.closed[0], state.closed[1])
            return refusal
        return await self._append(event)

    async def reopen(self, target: Target, raw: Any, caller: Principal | None) -> PeriodOutcome:
        asked = await self._asked(PeriodRequest, raw, target)
        if isinstance(asked, PeriodOutcome):
            return asked
        request, state = asked
        event = PeriodReopened(recorded_at=self._clock(), province=target.province,
                               map=target.map, period=target.period,
                               closing=max(1, state.closings),
                               by=caller.name if caller else None, reason=request.reason)
        refusal = decide_reopen(caller, target, state)
        if refusal is not None:
            if (refusal.status == "open" and state.reopened is not None
                    and same_request(state.reopened[1], event)):
                return PeriodOutcome("duplicate", state.reopened[0], state.reopened[1])
            return refusal
        return await self._append(event)

    async def control(self, target: Target, raw: Any,
                      caller: Principal | None) -> PeriodOutcome:
        asked = await self._asked(ControlTotalsRequest, raw, target)
        if isinstance(asked, PeriodOutcome):
            return asked
        request, state = asked
        refusal = decide_control(caller, target, state)
        if refusal is not None:
            return refusal
        event = ControlTotalsSubmitted(
            recorded_at=self._clock(), province=target.province, map=target.map,
            period=target.period, closing=state.closings, by=caller.name if caller else None,
            control=request)
        return await self._append(event)

    async def history(self, target: Target) -> list[tuple[int, PeriodEvent]]:
        """Every period event of the target, in stream order."""
        found = await self._journal.events_on(
            period_filter(target.province, target.map, target.period))
        return [(seq, decode_period_event(data)) for seq, data in found]

    async def _append(self, event: PeriodEvent) -> PeriodOutcome:
        message = Outgoing(subject=period_subject(event), payload=encode_event(event),
                           id_filter=once_filter(event),
                           headers={HEADER_MSG_ID: msg_id(event), HEADER_TYPE: event.type,
                                    HEADER_VERSION: str(event.version),
                                    "Content-Type": "application/json"})
        [result] = await self._journal.append_many([message])
        match result:
            case Stored(seq):
                await self._until_applied(seq)
                return PeriodOutcome("accepted", seq, event)
            case NotStored(reason):
                return PeriodOutcome("unavailable", problems=[FieldProblem("(broker)", reason)])
            case AlreadyStored(seq):
                try:
                    stored = decode_period_event(await self._journal.message_at(seq))
                except Exception as exc:  # noqa: BLE001 - any broker failure: try again
                    return _unavailable(exc)
                if same_request(stored, event):
                    return PeriodOutcome("duplicate", seq, stored)
                if isinstance(stored, PeriodClosed):  # a concurrent close came first
                    return PeriodOutcome("closed", closing=Closing.of(seq, stored))
                return PeriodOutcome("conflict", seq, stored, problems=[FieldProblem(
                    "period", f"{msg_id(event)} was already stored differently "
                              f"(stream sequence {seq})")])
        raise AssertionError(result)  # pragma: no cover


def _unavailable(exc: Exception) -> PeriodOutcome:
    return PeriodOutcome("unavailable", problems=[FieldProblem("(broker)", repr(exc))])


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], raw: Any) -> M | PeriodOutcome:
    if not isinstance(raw, dict):
        return PeriodOutcome("rejected", problems=[
            FieldProblem("(body)", "expected a JSON object")])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return PeriodOutcome("rejected", problems=problems_of(exc))


__all__ = ["PeriodOutcome", "PeriodService", "State", "Target",
           "decide_close", "decide_control", "decide_reopen", "same_request", "target_of"]
