"""Receiving an imported file: the request body (raw CSV or XLSX, or a multipart form's
``file``) spooled to a temporary file under its own size limit, and its kind."""

from __future__ import annotations

import tempfile
from typing import IO

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from cungdan_service.problems import ProblemError

from .limits import limited_stream
from .settings import MIB
from .sheets import Kind

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TYPES: dict[str, Kind] = {"text/csv": "csv", XLSX: "xlsx"}
_SPOOL_IN_MEMORY = MIB


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


async def received(request: Request, limit: int, caller: str) -> tuple[Kind, IO[bytes]]:
    """The file's format and its bytes, spooled (closed by the caller)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        return await _from_form(request, limit, caller)
    kind = _kind_of(content_type)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        async for chunk in limited_stream(request, limit, caller, "an import"):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return kind, spool


async def _from_form(request: Request, limit: int, caller: str) -> tuple[Kind, IO[bytes]]:
    parser = MultiPartParser(request.headers, limited_stream(request, limit, caller, "an import"),
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
