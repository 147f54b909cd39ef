"""``python -m cungdan_ingest``: serve the ingest API on the configured host and port."""

from __future__ import annotations

import uvicorn

from cungdan_service.logs import configure_logging

from .app import create_app
from .settings import IngestSettings

SERVICE = "ingest"


def main() -> None:
    settings = IngestSettings()
    configure_logging(SERVICE, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.ingest_host, port=settings.ingest_port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
