"""The ingest use case: validate reports, append them as events, say what became of each.

A report is answered ``accepted`` only once JetStream acknowledged its event.
An id JetStream already holds is a ``duplicate`` when the content is the same
and a ``conflict`` when it differs; nothing new is stored for either. With a
caller (``principal``), a valid report outside the caller's provinces is
``forbidden`` and never reaches the journal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cungdan_contracts import ActivityLogged, Event, Gazetteer, decode_event, encode_event
from cungdan_contracts.subjects import (
    HEADER_FINGERPRINT,
    HEADER_MSG_ID,
    HEADER_TYPE,
    HEADER_VERSION,
    Kind,
    id_filter,
    logged_subject,
)
from cungdan_service.auth import Principal, Role, scope_refusal

from .closures import Closing, Closures
from .journal import AlreadyStored, AppendResult, NotStored, Outgoing, Stored
from .validation import FieldProblem, ValidReport, today_in_vietnam, validate_report

log = logging.getLogger("cungdan.ingest")

Status = Literal["accepted", "duplicate", "rejected", "conflict", "unavailable", "forbidden",
                 "period_closed"]


class JournalPort(Protocol):
    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]: ...

    async def message_at(self, seq: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    id: str | None = None
    seq: int | None = None
    problems: list[FieldProblem] = field(default_factory=list)
    province: str | None = None
    closing: Closing | None = None
    """The closing of the period the report is dated in (``period_closed``)."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_outgoing(valid: ValidReport, recorded_at: dt.datetime,
                reported_by: str | None = None) -> Outgoing:
    """``reported_by``: the name of the caller's token (``None`` with auth off)."""
    event = ActivityLogged(recorded_at=recorded_at, source_province=valid.province,
                           map=valid.map, reported_by=reported_by, activity=valid.report)
    report = valid.report
    event_id = str(report.id)  # once: str() of a UUID is not free
    return Outgoing(
        subject=logged_subject(valid.map, valid.province, report.campaign, event_id),
        payload=encode_event(event),
        headers={
            HEADER_MSG_ID: event_id,
            HEADER_TYPE: event.type,
            HEADER_VERSION: str(event.version),
            HEADER_FINGERPRINT: report.fingerprint(),
            "Content-Type": "application/json",
        },
        id_filter=id_filter(event_id),
        key=(Kind.LOGGED, event_id),
    )


class IngestService:
    def __init__(self, journal: JournalPort, gazetteer: Gazetteer,
                 clock: Callable[[], dt.datetime] = _utcnow,
                 closures: Closures | None = None) -> None:
        self._journal = journal
        self._gazetteer = gazetteer
        self._clock = clock
        self._closures = Closures() if closures is None else closures

    async def submit(self, raw: Any, principal: Principal | None = None) -> Outcome:
        return (await self.submit_many([raw], principal))[0]

    async def submit_many(self, raws: Sequence[Any],
                          principal: Principal | None = None) -> list[Outcome]:
        """``principal``: the caller, whose scope each valid report must lie in; ``None``
        when authentication is off."""
        now = self._clock()
        outcomes: list[Outcome | None] = []
        valid: list[tuple[int, ValidReport]] = []
        for index, checked in enumerate(self.screen(raws, principal, today_in_vietnam(now))):
            if isinstance(checked, Outcome):
                outcomes.append(checked)
            else:
                valid.append((index, checked))
                outcomes.append(None)
        by = principal.name if principal else None
        results = await self._journal.append_many([to_outgoing(v, now, by) for _, v in valid])
        decided = [_decided(v, r) for (_, v), r in zip(valid, results, strict=True)]
        # Only an id stored before needs a read (of what it stored), concurrently.
        reads = [(i, v, r.seq) for i, ((_, v), r) in enumerate(zip(valid, results, strict=True))
                 if isinstance(r, AlreadyStored)]
        if reads:
            compared = await asyncio.gather(*(self._compare(v, seq) for _, v, seq in reads))
            for (i, _, _), read in zip(reads, compared, strict=True):
                decided[i] = read
        for (index, _), outcome in zip(valid, decided, strict=True):
            outcomes[index] = outcome
        _log_outcomes(decided, by)
        return [o for o in outcomes if o is not None]

    def screen(self, raws: Sequence[Any], principal: Principal | None,
               today: dt.date) -> list[Outcome | ValidReport]:
        """Each report refused before the journal is asked (``rejected``, ``forbidden``,
        ``period_closed``), or valid to append: what a batch and an import's dry run share."""
        screened: list[Outcome | ValidReport] = []
        for raw in raws:
            checked = validate_report(raw, self._gazetteer, today)
            if not isinstance(checked, ValidReport):
                screened.append(Outcome("rejected", _raw_id(raw), problems=checked))
            else:
                screened.append(out_of_scope(principal, checked)
                                or in_closed_period(self._closures, checked) or checked)
        return screened

    async def _compare(self, valid: ValidReport, seq: int) -> Outcome:
        """The outcome of a report whose id the stream already holds at ``seq``."""
        report_id = str(valid.report.id)
        try:
            stored = decode_event(await self._journal.message_at(seq))
        except Exception as exc:  # noqa: BLE001 - any broker failure means "retry later"
            return Outcome("unavailable", report_id, problems=[
                FieldProblem("(broker)", f"could not read event {seq}: {exc}")])
        return resent(valid, seq, stored)


def _decided(valid: ValidReport, result: AppendResult) -> Outcome | None:
    """The outcome of an append, unless it needs the stored event (``None``)."""
    match result:
        case Stored(seq):
            return Outcome("accepted", str(valid.report.id), seq, province=valid.province)
        case NotStored(reason):
            return Outcome("unavailable", str(valid.report.id),
                           problems=[FieldProblem("(broker)", reason)], province=valid.province)
    return None


def _log_outcomes(outcomes: Sequence[Outcome | None], by: str | None) -> None:
    """One line per report appended; but the reports of a batch that were accepted share
    one line, with their count and the range of their sequences (each report's own sequence
    is in the answer and in its history): a line per report cost a large share of a batch's
    time."""
    accepted = [o for o in outcomes if o is not None and o.status == "accepted"]
    many = len(accepted) > 1
    if many:
        seqs = [o.seq for o in accepted if o.seq is not None]
        log.info("reports accepted", extra={
            "count": len(accepted), "seq_first": min(seqs), "seq_last": max(seqs),
            "status": "accepted", "reported_by": by})
    for outcome in outcomes:
        if outcome is None or (many and outcome.status == "accepted"):
            continue
        log.info("report %s", outcome.status, extra={
            "event_id": outcome.id, "seq": outcome.seq, "status": outcome.status,
            "province": outcome.province, "reported_by": by})


def out_of_scope(principal: Principal | None, valid: ValidReport) -> Outcome | None:
    """The ``forbidden`` outcome of a valid report its caller may not send; pure."""
    if principal is None:
        return None
    reason = scope_refusal(principal, Role.REPORT, valid.map, valid.province)
    if reason is None:
        return None
    report = valid.report
    return Outcome("forbidden", str(report.id), province=valid.province, problems=[
        FieldProblem("locality", f"{report.locality} (read in the {valid.map.value} map, in "
                                 f"force on {report.date}): {reason}")])


def in_closed_period(closures: Closures, valid: ValidReport) -> Outcome | None:
    """The ``period_closed`` outcome of a report dated in a period closed for its province."""
    report = valid.report
    closing = closures.closed(valid.map, valid.province, report.date)
    if closing is None:
        return None
    return Outcome("period_closed", str(report.id), province=valid.province, closing=closing,
                   problems=[FieldProblem("date", closing.refusal(report.date, valid.province),
                                          "period_closed")])


def _raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def resent(valid: ValidReport, seq: int, stored: Event) -> Outcome:
    """A report whose id the stream already holds at ``seq`` (as ``stored``): a duplicate if
    it is the same report, else a conflict. Compared in the current shape: a v1 event in
    the log and the same report sent again (as v1 or v2) are the same content."""
    report_id, province = str(valid.report.id), valid.province
    if isinstance(stored, ActivityLogged) and stored.activity == valid.report:
        return Outcome("duplicate", report_id, seq, province=province)
    return Outcome("conflict", report_id, seq, province=province, problems=[
        FieldProblem("id", f"id {report_id} was already used for a different report "
                           f"(stream sequence {seq})", "id_conflict")])
