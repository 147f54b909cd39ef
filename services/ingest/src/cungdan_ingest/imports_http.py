"""HTTP adapter of imports: ``POST /v1/imports`` (a CSV or XLSX file -> the import summary)
and ``GET /v1/imports/template.{xlsx,csv}``.

The body is spooled to a temporary file (in memory up to 1 MiB, then on disk) under its own
size limit; its rows are read in a worker thread a chunk at a time, turned into reports
(:mod:`.imports`) and submitted through the batch endpoint's path
(:meth:`.service.IngestService.submit_many`: validation, the token's provinces, JetStream's
acknowledgement before ``accepted``), so memory is bounded by the chunk, not the file.
Whole-file problems are problem details (413, 415, 422); a readable file is answered with
the summary (200), or 503 with the counts so far when the event store fails mid-way (the
ids are deterministic: sending the file again is safe).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import IO, Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from cungdan_contracts import ActivityLogged, Gazetteer, decode_event
from cungdan_contracts.subjects import Kind as EventKind
from cungdan_service.auth import Principal, Reason
from cungdan_service.openapi_answers import TOKEN_REFUSALS, refusals
from cungdan_service.problems import ANONYMOUS, ProblemError, problem

from . import templates
from .http import Caller
from .imports import (
    Columns,
    Converted,
    HeaderError,
    ImportSummary,
    Refused,
    Tally,
    is_comment,
    is_header,
)
from .metrics import IngestMetrics
from .service import IngestService, Outcome, out_of_scope
from .settings import MIB
from .sheets import Kind, Row, SheetError, rows
from .validation import FieldProblem, ValidReport, today_in_vietnam, validate_report

log = logging.getLogger("cungdan.ingest")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TYPES: dict[str, Kind] = {"text/csv": "csv", XLSX: "xlsx"}
_SPOOL_IN_MEMORY = MIB

router = APIRouter()


class ImportSettings(BaseSettings):
    """``CUNGDAN_*`` settings of imports."""

    model_config = SettingsConfigDict(env_prefix="CUNGDAN_", extra="ignore")

    max_import_bytes: int = Field(default=64 * MIB, ge=1024)
    """Largest file (or multipart body) of ``POST /v1/imports``."""
    import_chunk_rows: int = Field(default=2000, ge=1, le=10_000)
    """Rows read, validated and published at a time."""
    import_max_listed_rows: int = Field(default=1000, ge=0)
    """Entries (row, column, reason) the summary lists; the rest are counted."""


class ImportMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Counter(
            "cungdan_ingest_import_rows_total",
            "Rows of imported files by outcome (accepted, duplicate, conflict, rejected, "
            "out_of_scope; dry runs included, labelled dry_run).",
            ["outcome", "dry_run"], registry=registry)
        self.files = Counter(
            "cungdan_ingest_imports_total",
            "Imported files by result (summary, refused: a whole-file problem, unavailable).",
            ["result", "format"], registry=registry)


def install(app: FastAPI) -> None:
    """Add the import routes to the ingest app (settings and metrics of their own)."""
    app.state.import_settings = ImportSettings()
    metrics: IngestMetrics = app.state.metrics
    app.state.import_metrics = ImportMetrics(metrics.registry)
    app.include_router(router)


# --- receiving the file ---------------------------------------------------------------------


def _too_large(limit: int, caller: str) -> ProblemError:
    return ProblemError(413, "body-too-large", "Request body too large",
                        f"an import takes at most {limit} bytes", caller=caller)


async def _limited(request: Request, limit: int, caller: str) -> AsyncGenerator[bytes]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, caller)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, caller)
        yield chunk


def _unsupported(what: str) -> ProblemError:
    return ProblemError(415, "unsupported-media-type", "Not a CSV or XLSX file",
                        f"{what}: send text/csv or {XLSX} as the body, or a multipart form "
                        f"with the file in the field 'file'")


def _kind_of(content_type: str, filename: str = "") -> Kind:
    media = content_type.split(";")[0].strip().lower()
    if media in _TYPES:
        return _TYPES[media]
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if media in ("", "application/octet-stream") and suffix in ("csv", "xlsx"):
        return "csv" if suffix == "csv" else "xlsx"
    if media == "application/vnd.ms-excel" or suffix == "xls":
        raise _unsupported("a legacy Excel (.xls) file: save it as .xlsx")
    raise _unsupported(f"content type '{media or '(none)'}'")


async def _received(request: Request, limit: int, caller: str) -> tuple[Kind, IO[bytes]]:
    """The file's format and its bytes, spooled (closed by the caller)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        return await _from_form(request, limit, caller)
    kind = _kind_of(content_type)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        async for chunk in _limited(request, limit, caller):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return kind, spool


async def _from_form(request: Request, limit: int, caller: str) -> tuple[Kind, IO[bytes]]:
    parser = MultiPartParser(request.headers, _limited(request, limit, caller),
                             max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ProblemError(422, "unreadable-file", "The multipart form cannot be read",
                           str(exc), caller=caller) from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise ProblemError(422, "unreadable-file", "No file in the form",
                           "the multipart form has no file in the field 'file'", caller=caller)
    try:
        kind = _kind_of(upload.content_type or "", upload.filename or "")
    except ProblemError:
        await form.close()
        raise
    return kind, upload.file


# --- the rows, a chunk at a time -------------------------------------------------------------


def _take(iterator: Iterator[Row], most: int) -> list[Row]:
    chunk = []
    for row in iterator:
        chunk.append(row)
        if len(chunk) >= most:
            break
    return chunk


@dataclass
class _Run:
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


class _Importer:
    def __init__(self, request: Request) -> None:
        self.service: IngestService = request.app.state.service
        self.gazetteer: Gazetteer = request.app.state.gazetteer
        self.journal: Any = request.app.state.journal
        self.metrics: IngestMetrics = request.app.state.metrics

    async def chunk(self, run: _Run, chunk: list[Row]) -> None:
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

    def _repeat(self, run: _Run, converted: Converted) -> bool:
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

    def _count_rejected(self, run: _Run, problems: list[FieldProblem]) -> None:
        """Count a row refused before the service saw it, as the batch endpoint counts an
        invalid report (dry runs count in the import metric only)."""
        if not run.dry_run:
            self.metrics.report("rejected", "unknown")
            for p in problems:
                self.metrics.rejection(p.kind)

    def _record(self, run: _Run, converted: Converted, outcome: Outcome) -> None:
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
            case "unavailable":
                run.unavailable = "; ".join(p.reason for p in outcome.problems) or "unavailable"

    async def _dry(self, run: _Run, pending: list[Converted]) -> list[Outcome]:
        """What :meth:`IngestService.submit_many` would answer, storing nothing."""
        today = today_in_vietnam()
        outcomes: list[Outcome | None] = []
        lookups: list[tuple[int, ValidReport]] = []
        for index, converted in enumerate(pending):
            checked = validate_report(converted.raw, self.gazetteer, today)
            if not isinstance(checked, ValidReport):
                outcomes.append(Outcome("rejected", converted.id, problems=checked))
            elif (refused := out_of_scope(run.caller, checked)) is not None:
                outcomes.append(refused)
            else:
                outcomes.append(None)
                lookups.append((index, checked))
        found = await asyncio.gather(*(self._stored(v) for _, v in lookups))
        for (index, _), outcome in zip(lookups, found, strict=True):
            outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    async def _stored(self, valid: ValidReport) -> Outcome:
        report_id, province = str(valid.report.id), valid.province
        try:
            stored = await self.journal.find_id(EventKind.LOGGED, report_id)
            if stored is None:
                return Outcome("accepted", report_id, province=province)
            seq, payload = stored
            event = decode_event(payload)
        except Exception as exc:  # noqa: BLE001 - any broker failure means "retry later"
            return Outcome("unavailable", report_id, problems=[
                FieldProblem("(broker)", f"could not look for {report_id}: {exc}")])
        if isinstance(event, ActivityLogged) and event.activity == valid.report:
            return Outcome("duplicate", report_id, seq, province=province)
        return Outcome("conflict", report_id, seq, province=province, problems=[
            FieldProblem("id", f"id {report_id} was already used for a different report "
                               f"(stream sequence {seq})", "id_conflict")])


async def _chunks(importer: _Importer, run: _Run, iterator: Iterator[Row], size: int) -> None:
    """Every row, a chunk at a time; the next chunk is read (in a worker thread) while the
    current one is validated and published. Stops at the first chunk the broker fails."""
    reading = asyncio.ensure_future(asyncio.to_thread(_take, iterator, size))
    try:
        while chunk := await reading:
            reading = asyncio.ensure_future(asyncio.to_thread(_take, iterator, size))
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


def _file_problem(status: int, kind: str, title: str, reason: str) -> JSONResponse:
    return problem(status, kind, title, errors=[{"field": "(file)", "reason": reason}])


async def _header(iterator: Iterator[Row]) -> Row | None:
    while True:
        chunk = await asyncio.to_thread(_take, iterator, 1)
        if not chunk:
            return None
        if not is_comment(chunk[0]):
            return chunk[0]


_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
}}}


_ANSWERS = refusals(
    *TOKEN_REFUSALS, (413, "File too large"), (415, "Neither CSV nor XLSX"),
    (422, "The file cannot be read: empty, not a spreadsheet, bad header, no rows"), 429,
    (503, "The event store is unavailable; send the file again (ids make it safe)"))
_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _template(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": "The template", "content": {media_type: _BINARY}},
            **refusals(*TOKEN_REFUSALS, 429)}


@router.post("/v1/imports", openapi_extra=_BODY, response_model=ImportSummary,
             responses=_ANSWERS, summary="Import a spreadsheet of reports (CSV or XLSX)")
async def post_import(
    request: Request, caller: Caller,
    dry_run: Annotated[bool, Query(description="Validate every row, store nothing")] = False,
) -> Response:
    settings: ImportSettings = request.app.state.import_settings
    files: ImportMetrics = request.app.state.import_metrics
    token = caller.name if caller else ANONYMOUS
    kind, file = await _received(request, settings.max_import_bytes, token)
    try:
        answer, result = await _import(request, caller, kind, file, dry_run, settings)
    finally:
        file.close()
    files.files.labels(result, kind).inc()
    return answer


async def _import(request: Request, caller: Principal | None, kind: Kind, file: IO[bytes],
                  dry_run: bool, settings: ImportSettings) -> tuple[Response, str]:
    metrics: ImportMetrics = request.app.state.import_metrics
    run: _Run | None = None
    try:
        iterator = await asyncio.to_thread(rows, file, kind, is_header)
        header = await _header(iterator)
        if header is None:
            return _file_problem(422, "empty-file", "The file holds no rows",
                                 "the file holds no header and no rows"), "refused"
        try:
            columns = Columns.read(header)
        except HeaderError as exc:
            return problem(422, "bad-header", "The header row cannot be read",
                           errors=[p.as_json() for p in exc.problems]), "refused"
        run = _Run(columns, Tally(settings.import_max_listed_rows), dry_run, caller)
        importer = _Importer(request)
        await _chunks(importer, run, iterator, settings.import_chunk_rows)
    except SheetError as exc:
        so_far = None if run is None else run.tally.counts.model_dump()
        return problem(422, exc.kind, "The file cannot be read", errors=[
            {"field": "(file)", "reason": exc.detail}], counts=so_far), "refused"
    counts = run.tally.counts
    for outcome in ("accepted", "duplicate", "conflict", "rejected", "out_of_scope"):
        if value := getattr(counts, outcome):
            metrics.rows.labels(outcome, str(dry_run).lower()).inc(value)
    summary = run.tally.summary(dry_run=dry_run, kind=kind, columns=columns.present,
                                separator=iterator.separator)
    if run.unavailable:
        retry = str(request.app.state.settings.retry_after_seconds)
        return problem(503, "broker-unavailable",
                       "The event store is unavailable; send the file again (ids make it "
                       "safe)", detail=run.unavailable, headers={"Retry-After": retry},
                       counts=counts.model_dump()), "unavailable"
    if counts.rows == 0:
        return _file_problem(422, "no-rows", "The file holds no rows",
                             "the file holds a header but no rows"), "refused"
    log.info("import of %d rows (%s%s): %s", counts.rows, kind, ", dry run" if dry_run else "",
             counts.model_dump(), extra={"reported_by": caller.name if caller else None})
    return JSONResponse(summary.model_dump(mode="json")), "summary"


# --- templates ------------------------------------------------------------------------------


@router.get("/v1/imports/template.xlsx", summary="The import template (XLSX)",
            response_class=Response, responses=_template(XLSX))
async def get_template_xlsx(request: Request, caller: Caller) -> Response:
    gazetteer: Gazetteer = request.app.state.gazetteer
    body = await asyncio.to_thread(templates.xlsx, templates.localities(gazetteer, caller))
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": 'attachment; filename="cungdan-import.xlsx"'})


@router.get("/v1/imports/template.csv", summary="The import template (CSV)",
            response_class=Response, responses=_template("text/csv"))
async def get_template_csv(caller: Caller) -> Response:
    return Response(templates.csv_text(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="cungdan-import.csv"'})
