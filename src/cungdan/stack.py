"""The whole system as child processes: the broker (one nats-server or a cluster), ingest,
projector.

``cungdan run`` (``make run``), the end-to-end and the fault tests start it the same way. The
broker is always locked down with the users of deploy/nats (:mod:`.broker`): each service
connects as its own user, and a test that reads the stream connects as ``reader``
(``stack.broker.client_url("reader")``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from .addresses import base_url
from .broker import Broker, NodePorts
from .nats_credentials import NatsCredentials, load_or_create
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
    cluster: tuple[NodePorts, ...] = ()
    """The nodes of a JetStream cluster (the activity stream then has three replicas);
    empty: one nats-server on ``nats_port`` and ``nats_http_port``."""
    nats_credentials_file: Path | None = None
    """The broker's passwords (made on first use); default ``data_dir/nats-credentials.json``."""

    @property
    def broker_nodes(self) -> tuple[NodePorts, ...]:
        return self.cluster or (NodePorts(self.nats_port, self.nats_http_port),)


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        data = config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.credentials: NatsCredentials = load_or_create(
            config.nats_credentials_file or data / "nats-credentials.json")
        self.broker = Broker(data, data / "logs", config.broker_nodes, self.credentials)
        auth = {} if config.tokens_file is None else {
            "CUNGDAN_AUTH_ENABLED": "true", "CUNGDAN_READS_PUBLIC": "true",
            "CUNGDAN_TOKENS_FILE": str(config.tokens_file.resolve())}
        env = {
            **auth,
            **config.extra_env,
            "CUNGDAN_INGEST_HOST": config.host,
            "CUNGDAN_INGEST_PORT": str(config.ingest_port),
            "CUNGDAN_PROJECTOR_HOST": config.host,
            "CUNGDAN_PROJECTOR_PORT": str(config.projector_port),
            "CUNGDAN_DATABASE_URL": config.database_url
            or f"sqlite:///{(data / 'readmodel.sqlite3').resolve()}",
        }
        replicas = ({"CUNGDAN_STREAM_REPLICAS": str(self.broker.replicas)}
                    if self.broker.clustered else {})
        self.ingest = ServiceProcess(
            [sys.executable, "-m", "cungdan_ingest"], port=config.ingest_port,
            host=config.host, log_file=data / "logs" / "ingest.log",
            env={**env, **replicas, "CUNGDAN_NATS_URL": self.broker.client_url("ingest")})
        self.projector = ServiceProcess(
            [sys.executable, "-m", "cungdan_projector"], port=config.projector_port,
            host=config.host, log_file=data / "logs" / "projector.log",
            env={**env, "CUNGDAN_NATS_URL": self.broker.client_url("projector")})

    @property
    def nats(self) -> NatsServer:
        """The nats-server (the first node of a cluster)."""
        return self.broker.nodes[0]

    @property
    def ingest_url(self) -> str:
        return base_url(self.config.host, self.config.ingest_port)

    @property
    def projector_url(self) -> str:
        return base_url(self.config.host, self.config.projector_port)

    def children(self) -> dict[str, ServiceProcess | NatsServer]:
        """The processes by name, as :class:`~cungdan.supervisor.Supervisor` watches them."""
        nodes = self.broker.nodes
        named: dict[str, ServiceProcess | NatsServer] = {node.name: node for node in nodes}
        return {**named, "ingest": self.ingest, "projector": self.projector}

    def start(self) -> None:
        try:
            self.broker.start()
            self.ingest.start()
            self.projector.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.projector.stop()
        self.ingest.stop()
        self.broker.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
