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
from typing import IO, Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cungdan_contracts import Gazetteer
from cungdan_service.auth import Principal
from cungdan_service.openapi_answers import TOKEN_REFUSALS, refusals
from cungdan_service.problems import ANONYMOUS, problem

from . import templates
from .http import Caller
from .import_runs import Importer, ImportRun, first_row, import_chunks
from .import_summary import ImportSummary, Tally
from .import_upload import XLSX, received
from .imports import Columns, HeaderError, is_header
from .metrics import IngestMetrics
from .settings import MIB
from .sheets import Kind, SheetError, rows
from .unavailable import UNAVAILABLE, broker_unavailable

log = logging.getLogger("cungdan.ingest")


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


def _file_problem(status: int, kind: str, title: str, reason: str) -> JSONResponse:
    return problem(status, kind, title, errors=[{"field": "(file)", "reason": reason}])


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
    kind, file = await received(request, settings.max_import_bytes, token)
    try:
        answer, result = await _import(request, caller, kind, file, dry_run, settings)
    finally:
        file.close()
    files.files.labels(result, kind).inc()
    return answer


async def _import(request: Request, caller: Principal | None, kind: Kind, file: IO[bytes],
                  dry_run: bool, settings: ImportSettings) -> tuple[Response, str]:
    metrics: ImportMetrics = request.app.state.import_metrics
    run: ImportRun | None = None
    try:
        iterator = await asyncio.to_thread(rows, file, kind, is_header)
        header = await first_row(iterator)
        if header is None:
            return _file_problem(422, "empty-file", "The file holds no rows",
                                 "the file holds no header and no rows"), "refused"
        try:
            columns = Columns.read(header)
        except HeaderError as exc:
            return problem(422, "bad-header", "The header row cannot be read",
                           errors=[p.as_json() for p in exc.problems]), "refused"
        run = ImportRun(columns, Tally(settings.import_max_listed_rows), dry_run, caller)
        importer = Importer(request)
        await import_chunks(importer, run, iterator, settings.import_chunk_rows)
    except SheetError as exc:
        so_far = None if run is None else run.tally.counts.model_dump()
        return problem(422, exc.kind, "The file cannot be read", errors=[
            {"field": "(file)", "reason": exc.detail}], counts=so_far), "refused"
    counts = run.tally.counts
    for outcome in ("accepted", "duplicate", "conflict", "rejected", "out_of_scope"):
        if value := getattr(counts, outcome):
            metrics.rows.labels(outcome, str(dry_run).lower()).inc(value)
    summary = run.tally.summary(dry_run=dry_run, kind=kind, columns=columns.present,
                                separator=iterator.separator, encoding=iterator.encoding)
    if run.unavailable:
        return broker_unavailable(
            request, title=f"{UNAVAILABLE}; send the file again (ids make it safe)",
            detail=run.unavailable, counts=counts.model_dump()), "unavailable"
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
