"""``python -m cungdan_ingest``: serve the ingest API on the configured host and port."""

from __future__ import annotations

import logging

import uvicorn

from cungdan_contracts import load_gazetteer
from cungdan_service.heap import (
    collect_fully_less_often,
    freeze_startup_heap,
    limit_malloc_arenas,
)
from cungdan_service.logs import configure_logging

from .app import create_app
from .settings import IngestSettings

SERVICE = "ingest"


def main() -> None:
    settings = IngestSettings()
    configure_logging(SERVICE, settings.log_level)
    # The JSON lines carry none of these record attributes; each costs time per record
    # (a getpid() system call, thread and process lookups, a walk up the stack), and ingest
    # logs a line per request. See "Optimization" in the logging HOWTO.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    # uvloop and httptools (uvicorn[standard]) by name: a missing one fails at start
    # instead of quietly serving on the slower pure-Python loop and parser.
    app = create_app(settings, gazetteer=load_gazetteer())  # loaded now, to be frozen
    freeze_startup_heap()
    collect_fully_less_often()
    limit_malloc_arenas()
    uvicorn.run(app, host=settings.ingest_host, port=settings.ingest_port,
                loop="uvloop", http="httptools", log_config=None, access_log=False)


if __name__ == "__main__":
    main()
