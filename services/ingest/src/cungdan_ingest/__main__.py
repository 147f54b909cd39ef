"""``python -m cungdan_ingest``: serve the ingest API on the configured host and port."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    uvicorn.run(create_app(settings), host=settings.ingest_host, port=settings.ingest_port,
                log_level="info", access_log=False)


if __name__ == "__main__":
    main()
