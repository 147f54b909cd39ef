"""The whole system as child processes: nats-server, ingest, projector.

``cungdan run`` (``make run``) and the end-to-end tests start it the same way.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from .processes import LOCALHOST, NatsServer, ServiceProcess


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    nats_port: int = 4222
    nats_http_port: int = 8222
    ingest_port: int = 8000
    projector_port: int = 8001
    host: str = LOCALHOST
    database_url: str | None = None
    """Defaults to a SQLite file in ``data_dir``."""
    tokens_file: Path | None = None
    """With a tokens file, ingest requires tokens and reads stay public (``extra_env`` may
    say otherwise); without one, no authentication."""
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        data = config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.nats = NatsServer(data / "nats", log_dir=data / "logs", port=config.nats_port,
                               http_port=config.nats_http_port)
        auth = {} if config.tokens_file is None else {
            "CUNGDAN_AUTH_ENABLED": "true", "CUNGDAN_READS_PUBLIC": "true",
            "CUNGDAN_TOKENS_FILE": str(config.tokens_file.resolve())}
        env = {
            **auth,
            **config.extra_env,
            "CUNGDAN_NATS_URL": self.nats.url,
            "CUNGDAN_INGEST_HOST": config.host,
            "CUNGDAN_INGEST_PORT": str(config.ingest_port),
            "CUNGDAN_PROJECTOR_HOST": config.host,
            "CUNGDAN_PROJECTOR_PORT": str(config.projector_port),
            "CUNGDAN_DATABASE_URL": config.database_url
            or f"sqlite:///{(data / 'readmodel.sqlite3').resolve()}",
        }
        self.ingest = ServiceProcess(
            [sys.executable, "-m", "cungdan_ingest"], port=config.ingest_port,
            host=config.host, log_file=data / "logs" / "ingest.log", env={**os.environ, **env})
        self.projector = ServiceProcess(
            [sys.executable, "-m", "cungdan_projector"], port=config.projector_port,
            host=config.host, log_file=data / "logs" / "projector.log",
            env={**os.environ, **env})

    @property
    def ingest_url(self) -> str:
        return f"http://{self.config.host}:{self.config.ingest_port}"

    @property
    def projector_url(self) -> str:
        return f"http://{self.config.host}:{self.config.projector_port}"

    def start(self) -> None:
        try:
            self.nats.start()
            self.ingest.start()
            self.projector.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in (self.projector, self.ingest, self.nats):
            process.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
