"""One import's rows, a chunk at a time: read in a worker thread, turned into reports
(:mod:`.imports`) and submitted through the batch endpoint's path
(:meth:`.service.IngestService.submit_many`), so memory is bounded by the chunk."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from cungdan_contracts import decode_event
from cungdan_contracts.subjects import Kind as EventKind
from cungdan_service.auth import Principal, Reason
from cungdan_service.problems import ANONYMOUS

from .import_summary import Tally
from .imports import Columns, Converted, Refused, is_comment
from .metrics import IngestMetrics
from .service import IngestService, Outcome, resent
from .sheets import Row
from .validation import FieldProblem, ValidReport, today_in_vietnam


def take(iterator: Iterator[Row], most: int) -> list[Row]:
    return list(itertools.islice(iterator, most))


@dataclass
class ImportRun:
    """One import: the header, the rows' outcomes so far, the ids seen in the file."""

    columns: Columns
    tally: Tally
    dry_run: bool
    caller: Principal | None
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    """id -> (row, content digest) of each report accepted or found stored, so that a row
    repeating it is answered without a trip to the broker."""
    carried: list[Converted] = field(default_factory=list)
    """Rows repeating an id of the chunk being submitted: submitted with the next one."""
    unavailable: str | None = None


class Importer:
    def __init__(self, request: Request) -> None:
        self.service: IngestService = request.app.state.service
        self.journal: Any = request.app.state.journal
        self.metrics: IngestMetrics = request.app.state.metrics

    async def chunk(self, run: ImportRun, chunk: list[Row]) -> None:
        pending: list[Converted] = []
        in_chunk: set[str] = set()
        for converted in run.carried:
            pending.append(converted)
            in_chunk.add(converted.id)
        run.carried = []
        for row in chunk:
            if is_comment(row):
                continue
            result = run.columns.convert(row)
            if isinstance(result, Refused):
                run.tally.add(row.number, "rejected", id=result.id,
                              problems=[(p.field, p.reason, p.kind) for p in result.problems])
                self._count_rejected(run, result.problems)
                continue
            if self._repeat(run, result):
                continue
            if result.id in in_chunk:
                run.carried.append(result)
                continue
            in_chunk.add(result.id)
            pending.append(result)
        if not pending:
            return
        outcomes = (await self._dry(run, pending) if run.dry_run else
                    await self.service.submit_many([c.raw for c in pending], run.caller))
        for converted, outcome in zip(pending, outcomes, strict=True):
            self._record(run, converted, outcome)

    def _repeat(self, run: ImportRun, converted: Converted) -> bool:
        """Answer a row whose id an earlier row of the file stored (or found stored)."""
        earlier = run.seen.get(converted.id)
        if earlier is None:
            return False
        row, content = earlier
        if content == converted.content:
            run.tally.add(converted.row, "duplicate", id=converted.id, problems=[
                (None, f"the same report as row {row}", "duplicate")])
        else:
            problem = FieldProblem(run.columns.header_of("id"), f"id {converted.id} is used "
                                   f"by row {row} for a different report", "id_conflict")
            run.tally.add(converted.row, "conflict", id=converted.id,
                          problems=[(problem.field, problem.reason, problem.kind)])
            self._count_rejected(run, [problem])
        return True

    def _count_rejected(self, run: ImportRun, problems: list[FieldProblem]) -> None:
        """Count a row refused before the service saw it, as the batch endpoint counts an
        invalid report (dry runs count in the import metric only)."""
        if not run.dry_run:
            self.metrics.report("rejected", "unknown")
            for p in problems:
                self.metrics.rejection(p.kind)

    def _record(self, run: ImportRun, converted: Converted, outcome: Outcome) -> None:
        problems = [(run.columns.column_of(p), p.reason, p.kind) for p in outcome.problems]
        province = outcome.province or "unknown"
        if not run.dry_run:
            self.metrics.report(outcome.status, province)
        match outcome.status:
            case "accepted" | "duplicate":
                run.seen[converted.id] = (converted.row, converted.content)
                run.tally.add(converted.row, outcome.status, id=converted.id, seq=outcome.seq,
                              problems=[] if outcome.status == "accepted" else [
                                  (None, f"already stored (stream sequence {outcome.seq})",
                                   "duplicate")])
            case "rejected" | "conflict":
                run.tally.add(converted.row, outcome.status, id=converted.id, seq=outcome.seq,
                              problems=problems)
                if not run.dry_run:
                    for p in outcome.problems:
                        self.metrics.rejection(p.kind)
            case "forbidden":
                run.tally.add(converted.row, "out_of_scope", id=converted.id, problems=[
                    (column, reason, Reason.OUT_OF_SCOPE.value) for column, reason, _ in problems])
                if not run.dry_run:
                    token = run.caller.name if run.caller else ANONYMOUS
                    self.metrics.refusals.labels(token, Reason.OUT_OF_SCOPE).inc()
            case "period_closed":
                run.tally.add(converted.row, "rejected", id=converted.id, problems=problems)
                if not run.dry_run:
                    self.metrics.period_refusals.labels("report").inc()
            case "unavailable":
                run.unavailable = "; ".join(p.reason for p in outcome.problems) or "unavailable"

    async def _dry(self, run: ImportRun, pending: list[Converted]) -> list[Outcome]:
        """What :meth:`IngestService.submit_many` would answer, storing nothing."""
        screened = self.service.screen([c.raw for c in pending], run.caller,
                                       today_in_vietnam())
        lookups = [(i, v) for i, v in enumerate(screened) if isinstance(v, ValidReport)]
        found = await asyncio.gather(*(self._stored(v) for _, v in lookups))
        for (index, _), outcome in zip(lookups, found, strict=True):
            screened[index] = outcome
        return [o for o in screened if isinstance(o, Outcome)]

    async def _stored(self, valid: ValidReport) -> Outcome:
        report_id = str(valid.report.id)
        try:
            stored = await self.journal.find_id(EventKind.LOGGED, report_id)
            if stored is None:
                return Outcome("accepted", report_id, province=valid.province)
            seq, payload = stored
            event = decode_event(payload)
        except Exception as exc:  # noqa: BLE001 - any broker failure means "retry later"
            return Outcome("unavailable", report_id, problems=[
                FieldProblem("(broker)", f"could not look for {report_id}: {exc}")])
        return resent(valid, seq, event)


async def import_chunks(importer: Importer, run: ImportRun, iterator: Iterator[Row],
                        size: int) -> None:
    """Every row, a chunk at a time; the next chunk is read (in a worker thread) while the
    current one is validated and published. Stops at the first chunk the broker fails."""
    reading = asyncio.ensure_future(asyncio.to_thread(take, iterator, size))
    try:
        while chunk := await reading:
            reading = asyncio.ensure_future(asyncio.to_thread(take, iterator, size))
            await importer.chunk(run, chunk)
            if run.unavailable:
                return
        while run.carried and not run.unavailable:
            await importer.chunk(run, [])
    finally:
        if not reading.done():  # let the thread finish with the file before it is closed
            await asyncio.wait([reading])
        if not reading.cancelled():
            reading.exception()  # retrieved: a read error after the import stopped is moot


async def first_row(iterator: Iterator[Row]) -> Row | None:
    while True:
        chunk = await asyncio.to_thread(take, iterator, 1)
        if not chunk:
            return None
        if not is_comment(chunk[0]):
            return chunk[0]
