"""The ingest use case: validate reports, append them as events, say what became of each.

A report is answered ``accepted`` only once JetStream acknowledged its event.
An id JetStream already holds is a ``duplicate`` when the content is the same
and a ``conflict`` when it differs; nothing new is stored for either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cungdan_contracts import ActivityLogged, Gazetteer, encode_event
from cungdan_contracts.subjects import (
    HEADER_FINGERPRINT,
    HEADER_MSG_ID,
    HEADER_TYPE,
    HEADER_VERSION,
    id_filter,
    logged_subject,
)

from .journal import AlreadyStored, AppendResult, NotStored, Outgoing, Stored
from .validation import FieldProblem, ValidReport, today_in_vietnam, validate_report

Status = Literal["accepted", "duplicate", "rejected", "conflict", "unavailable"]


class JournalPort(Protocol):
    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]: ...

    async def header_at(self, seq: int, header: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    id: str | None = None
    seq: int | None = None
    problems: list[FieldProblem] = field(default_factory=list)
    province: str | None = None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_outgoing(valid: ValidReport, recorded_at: dt.datetime) -> Outgoing:
    event = ActivityLogged(recorded_at=recorded_at, source_province=valid.province,
                           map=valid.map, activity=valid.report)
    report = valid.report
    return Outgoing(
        subject=logged_subject(valid.map, valid.province, report.campaign, report.id),
        payload=encode_event(event),
        headers={
            HEADER_MSG_ID: str(report.id),
            HEADER_TYPE: event.type,
            HEADER_VERSION: str(event.version),
            HEADER_FINGERPRINT: report.fingerprint(),
            "Content-Type": "application/json",
        },
        id_filter=id_filter(report.id),
    )


class IngestService:
    def __init__(self, journal: JournalPort, gazetteer: Gazetteer,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._journal = journal
        self._gazetteer = gazetteer
        self._clock = clock

    async def submit(self, raw: Any) -> Outcome:
        return (await self.submit_many([raw]))[0]

    async def submit_many(self, raws: Sequence[Any]) -> list[Outcome]:
        now = self._clock()
        today = today_in_vietnam(now)
        outcomes: list[Outcome | None] = []
        valid: list[tuple[int, ValidReport]] = []
        for index, raw in enumerate(raws):
            checked = validate_report(raw, self._gazetteer, today)
            if isinstance(checked, ValidReport):
                valid.append((index, checked))
                outcomes.append(None)
            else:
                outcomes.append(Outcome("rejected", _raw_id(raw), problems=checked))
        results = await self._journal.append_many([to_outgoing(v, now) for _, v in valid])
        resolved = await asyncio.gather(*(
            self._resolve(v, result) for (_, v), result in zip(valid, results, strict=True)))
        for (index, _), outcome in zip(valid, resolved, strict=True):
            outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    async def _resolve(self, valid: ValidReport, result: AppendResult) -> Outcome:
        report_id, province = str(valid.report.id), valid.province
        match result:
            case Stored(seq):
                return Outcome("accepted", report_id, seq, province=province)
            case NotStored(reason):
                return Outcome("unavailable", report_id,
                               problems=[FieldProblem("(broker)", reason)], province=province)
            case AlreadyStored(seq):
                try:
                    stored = await self._journal.header_at(seq, HEADER_FINGERPRINT)
                except Exception as exc:  # noqa: BLE001 - any broker failure means "retry later"
                    return Outcome("unavailable", report_id, problems=[
                        FieldProblem("(broker)", f"could not read event {seq}: {exc}")])
                if stored == valid.report.fingerprint():
                    return Outcome("duplicate", report_id, seq, province=province)
                return Outcome("conflict", report_id, seq, province=province, problems=[
                    FieldProblem("id", f"id {report_id} was already used for a different report "
                                       f"(stream sequence {seq})")])


def _raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None
