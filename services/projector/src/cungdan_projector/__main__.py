"""``python -m cungdan_projector``: project the stream and serve the totals."""

from __future__ import annotations

import uvicorn

from cungdan_service.heap import (
    collect_fully_less_often,
    freeze_startup_heap,
    limit_malloc_arenas,
)
from cungdan_service.logs import configure_logging

from .app import create_app
from .settings import ProjectorSettings

SERVICE = "projector"


def main() -> None:
    settings = ProjectorSettings()
    configure_logging(SERVICE, settings.log_level)
    app = create_app(settings)
    freeze_startup_heap()
    collect_fully_less_often()
    limit_malloc_arenas()
    uvicorn.run(app, host=settings.projector_host,
                port=settings.projector_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
