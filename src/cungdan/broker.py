"""The broker of a stack: one nats-server, or a JetStream cluster of nodes on loopback.

Either way it is locked down as production is: each node runs with the users and
permissions of ``deploy/nats/nats-auth.conf`` (their passwords in its environment, from
:mod:`.nats_credentials`), so a client without credentials is refused. A cluster's nodes
accept routes only from the ``route`` user, else anyone on the machine could join one as a
server and bypass the permissions.

Each node's configuration is written into the data directory (mode 0600: it holds the
route password) with the text of nats-auth.conf appended, so a change there takes effect
on the next start. Ports, address and store come on the command line
(:class:`.processes.NatsServer`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from .nats_credentials import ROUTE_USER, NatsCredentials
from .processes import LOCALHOST, NatsServer, ProcessStartError

AUTH_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-auth.conf"
"""The users and permissions of production, read from this checkout."""
CLUSTER_NAME = "cungdan"
MAX_REPLICAS = 3
"""Replicas of the activity stream in a cluster (JetStream allows at most 5; 3 survives the
loss of any one node)."""


@dataclass(frozen=True)
class NodePorts:
    client: int
    http: int
    route: int | None = None
    """The cluster port; ``None`` for a node on its own."""


def auth_config_text() -> str:
    try:
        return AUTH_CONFIG.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{AUTH_CONFIG} not found: `cungdan run` locks nats-server down with the users of "
            "deploy/nats/nats-auth.conf and runs from a checkout of the repository "
            "(make install)") from None


def node_config(name: str, ports: NodePorts, peers: Sequence[NodePorts],
                credentials: NatsCredentials, *, host: str = LOCALHOST) -> str:
    """nats-server's configuration of node ``name`` (``peers``: the others of its cluster)."""
    lines = ["# Written by cungdan (src/cungdan/broker.py) on each start: edit that, or",
             "# deploy/nats/nats-auth.conf (appended below), not this file.",
             f'server_name: "{name}"']
    if ports.route is not None:
        password = credentials.password(ROUTE_USER)
        routes = [f'    "nats-route://{ROUTE_USER}:{password}@{host}:{peer.route}"'
                  for peer in peers if peer.route is not None and peer != ports]
        lines += ["cluster {",
                  f'  name: "{CLUSTER_NAME}"',
                  f'  listen: "{host}:{ports.route}"',
                  f'  authorization {{ user: "{ROUTE_USER}", password: "{password}" }}',
                  "  routes: [", *routes, "  ]",
                  "}"]
    return "\n".join(lines) + "\n\n" + auth_config_text()


class Broker:
    """One nats-server, or (with several ``nodes``) a JetStream cluster of them."""

    def __init__(self, data_dir: Path, log_dir: Path, nodes: Sequence[NodePorts],
                 credentials: NatsCredentials, *, host: str = LOCALHOST) -> None:
        if not nodes:
            raise ValueError("a broker has at least one node")
        clustered = len(nodes) > 1
        if clustered and any(n.route is None for n in nodes):
            raise ValueError("every node of a cluster needs a route port")
        self.credentials = credentials
        self.host = host
        self.ports = tuple(nodes)
        names = [f"nats-{i}" for i in range(1, len(nodes) + 1)] if clustered else ["nats-server"]
        stores = names if clustered else ["nats"]
        env = credentials.server_env()
        self.nodes: list[NatsServer] = []
        for name, store, ports in zip(names, stores, nodes, strict=True):
            config = data_dir / f"{name}.conf"
            _write_private(config, node_config(name, ports, nodes, credentials, host=host))
            self.nodes.append(NatsServer(data_dir / store, log_dir=log_dir, port=ports.client,
                                         http_port=ports.http, config_file=config, env=env,
                                         name=name))

    @property
    def clustered(self) -> bool:
        return len(self.nodes) > 1

    @property
    def replicas(self) -> int:
        """How many copies of the activity stream this broker keeps."""
        return min(MAX_REPLICAS, len(self.nodes))

    @property
    def servers(self) -> list[str]:
        return [f"{self.host}:{node.port}" for node in self.nodes]

    @property
    def display_url(self) -> str:
        """Every node's client URL, without credentials."""
        return ",".join(f"nats://{server}" for server in self.servers)

    def client_url(self, user: str) -> str:
        """``CUNGDAN_NATS_URL`` for ``user``: every node, with its credentials."""
        return self.credentials.client_url(user, self.servers)

    def node(self, name: str) -> NatsServer:
        return next(n for n in self.nodes if n.name == name)

    def start(self, timeout: float = 30.0) -> None:
        """Start every node; a cluster is started once each node is healthy (it knows its
        JetStream meta leader and holds what it should)."""
        try:
            for node in self.nodes:
                node.start()
            if self.clustered:
                self.wait_healthy(self.nodes, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def wait_healthy(self, nodes: Sequence[NatsServer], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            for node in nodes:
                while (problem := node_problem(client, node)) is not None:
                    if time.monotonic() > deadline:
                        raise ProcessStartError(
                            f"{node.name} not healthy after {timeout}s: {problem}")
                    time.sleep(0.1)

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def node_problem(client: httpx.Client, node: NatsServer) -> str | None:
    """Why ``node`` is not healthy (nats-server's full /healthz: running, in contact with the
    JetStream meta leader, every stream and consumer it holds current); ``None``: it is."""
    if not node.running:
        return "not running"
    try:
        response = client.get(f"{node.monitor_url}/healthz")
    except httpx.HTTPError as exc:
        return repr(exc)
    if response.status_code == 200:
        return None
    try:
        return str(response.json().get("error") or response.text)
    except ValueError:
        return response.text


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
