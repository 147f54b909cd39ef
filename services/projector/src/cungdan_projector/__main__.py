"""``python -m cungdan_projector``: project the stream and serve the totals."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import ProjectorSettings


def main() -> None:
    settings = ProjectorSettings()
    uvicorn.run(create_app(settings), host=settings.projector_host,
                port=settings.projector_port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
