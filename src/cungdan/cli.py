"""The ``cungdan`` operator command.

- ``cungdan run``: start nats-server, ingest and projector, load the demo data,
  print the URLs and stay up until Ctrl-C (what ``make run`` does). ``--cluster``: a
  three-node JetStream cluster instead of one nats-server, the stream in three replicas.
- ``cungdan demo load``: load the article-based demo data into a running ingest.
- ``cungdan token create|list|revoke``: API tokens, kept as hashes in the tokens file.
- ``cungdan status``: stream size, lag, dead letters and freshness per province.
- ``cungdan deadletters list|redrive``, ``cungdan rebuild``: projector operations.
- ``cungdan import FILE [--dry-run]``: a CSV or XLSX file of reports into the ingest.

A command that fails says why in one line on stderr and exits non-zero
(``CUNGDAN_DEBUG=1``: with the traceback). The commands find the services through the
settings the services use (``CUNGDAN_INGEST_PORT``, ``CUNGDAN_PROJECTOR_PORT``, ...).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from cungdan_service.tokens import TokenFile

from . import importing, ops_commands, token_commands
from .addresses import ServiceAddresses
from .broker import NodePorts
from .client import post_batches, wait_until_projected
from .command_errors import EXIT_INTERRUPTED, CommandError, OneLineParser, one_line
from .demo import demo_reports
from .processes import port_in_use
from .stack import Stack, StackConfig
from .supervisor import Supervisor

Port = Annotated[int, Field(ge=1, le=65535)]
NodesPorts = Annotated[tuple[Port, Port, Port], NoDecode]
"""The ports of the three nodes of ``--cluster``: ``4222,4223,4224`` in the environment."""


class RunSettings(ServiceAddresses):
    """Where ``cungdan run`` puts things; each can be moved by a CUNGDAN_* variable (the
    services' ports are the addresses the other commands find them at)."""

    data_dir: Path = Path("var")
    nats_port: int = Field(default=4222, ge=1, le=65535)
    nats_http_port: int = Field(default=8222, ge=1, le=65535)
    nats_cluster_ports: NodesPorts = (4222, 4223, 4224)
    nats_cluster_http_ports: NodesPorts = (8222, 8223, 8224)
    nats_cluster_route_ports: NodesPorts = (6222, 6223, 6224)
    database_url: str | None = None
    tokens_file: Path | None = None
    """Default: ``data_dir/tokens.json``."""

    @field_validator("nats_cluster_ports", "nats_cluster_http_ports",
                     "nats_cluster_route_ports", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(","))
        return value

    def tokens(self) -> TokenFile:
        return TokenFile(self.tokens_file or self.data_dir / "tokens.json")

    @property
    def nats_credentials_file(self) -> Path:
        """The broker's passwords (made on the first run): one file for both broker layouts."""
        return self.data_dir / "nats-credentials.json"

    def cluster_nodes(self) -> tuple[NodePorts, ...]:
        return tuple(NodePorts(client, http, route) for client, http, route in zip(
            self.nats_cluster_ports, self.nats_cluster_http_ports,
            self.nats_cluster_route_ports, strict=True))

    def stack_config(self, tokens: TokenFile, *, cluster: bool) -> StackConfig:
        """A cluster keeps its stream and read model in ``data_dir/cluster``: the stream of
        one nats-server does not move into a cluster, and a read model belongs to its stream."""
        return StackConfig(
            data_dir=self.data_dir / "cluster" if cluster else self.data_dir,
            nats_port=self.nats_port, nats_http_port=self.nats_http_port,
            ingest_port=self.ingest_port, projector_port=self.projector_port,
            database_url=self.database_url, tokens_file=tokens.path,
            cluster=self.cluster_nodes() if cluster else (),
            nats_credentials_file=self.nats_credentials_file)


def _examples(projector: str) -> list[str]:
    return [
        f"{projector}/v1/totals/137?map=legacy&campaign=ngay-cuoi-tuan-cung-dan",
        f"{projector}/v1/totals/061?map=legacy&campaign=dan-van-kheo",
        f"{projector}/v1/totals/14836?map=legacy",
        f"{projector}/v1/totals/15?map=2025&campaign=ngay-cuoi-tuan-cung-dan",
        f"{projector}/v1/totals/VN?map=legacy&period=2023",
        f"{projector}/v1/localities/15?map=2025",
    ]


def run(load_demo: bool, cluster: bool = False) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stderr)
    settings = RunSettings()
    tokens = settings.tokens()
    issued = token_commands.issue_demo_tokens(tokens)
    national = next(t.secret for t in issued if t.principal.name == token_commands.DEMO_NATIONAL)
    config = settings.stack_config(tokens, cluster=cluster)
    _refuse_busy_ports(config)
    stack = Stack(config)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    broker = (f"a JetStream cluster of {len(stack.broker.nodes)} nats-servers" if cluster
              else "nats-server")
    print(f"starting {broker}, ingest and projector (data in {config.data_dir}/) ...",
          flush=True)
    with stack, Supervisor(stack.children()):
        if load_demo:
            counts = post_batches(stack.ingest_url, demo_reports(), token=national)
            wait_until_projected(stack.projector_url, counts["last_seq"])
            print(f"demo data: {counts['accepted']} accepted, {counts['duplicate']} already "
                  f"there, {counts.get('rejected', 0)} rejected")
        replicas = f"; stream in {stack.broker.replicas} replicas" if cluster else ""
        print(f"\nNATS       {stack.broker.display_url}   (users ingest, projector, reader; "
              f"passwords in {settings.nats_credentials_file}{replicas})\n"
              f"ingest     {stack.ingest_url}   (POST /v1/activities, /v1/activities/batch; "
              f"docs at /docs)\n"
              f"projector  {stack.projector_url}   (GET /v1/totals/{{locality}}, "
              f"/v1/localities/{{code}})\n"
              f"logs       {config.data_dir}/logs/\n")
        _print_tokens(issued, tokens, stack.ingest_url)
        print("\ntry (reads are public):")
        for url in _examples(stack.projector_url):
            print(f"  curl -s '{url}'")
        print("\nCtrl-C stops everything.", flush=True)
        stopping.wait()
        print("stopping ...", flush=True)
    return 0


def _refuse_busy_ports(config: StackConfig) -> None:
    """A port in use would have a service of another run answer for this one."""
    nodes = config.broker_nodes
    prefix = "CUNGDAN_NATS_CLUSTER_" if config.cluster else "CUNGDAN_NATS_"
    wanted = [("CUNGDAN_INGEST_PORT", config.ingest_port),
              ("CUNGDAN_PROJECTOR_PORT", config.projector_port),
              *((f"{prefix}{kind}PORT{'S' if config.cluster else ''}", port)
                for node in nodes for kind, port in (("", node.client), ("HTTP_", node.http),
                                                     ("ROUTE_", node.route)) if port)]
    for variable, port in wanted:
        if port_in_use(port, config.host):
            raise CommandError(f"port {port} ({variable}) is in use on {config.host}: another "
                               f"cungdan run? Stop it, or set {variable}")


def _print_tokens(issued: list[token_commands.IssuedToken], tokens: TokenFile,
                  ingest: str) -> None:
    print(f"API tokens of this run (only their hashes are kept, in {tokens.path}):")
    for token in issued:
        print(f"  {token.principal.name:<14} {token_commands.describe(token.principal)}\n"
              f"  {'':<14} {token.secret}")
    print(f"  report with:  curl -H 'Authorization: Bearer <token>' -H 'Content-Type: "
          f"application/json' -d @report.json {ingest}/v1/activities")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="cungdan", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run the whole system locally with demo data")
    run_cmd.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    run_cmd.add_argument("--cluster", action="store_true",
                         help="a three-node JetStream cluster (stream in 3 replicas) instead of "
                              "one nats-server")
    demo = commands.add_parser("demo", help="demo data")
    demo_cmds = demo.add_subparsers(dest="demo_command", required=True)
    load = demo_cmds.add_parser("load", help="load the demo data into a running ingest")
    load.add_argument("--ingest", default=None,
                      help="ingest base URL (default: CUNGDAN_INGEST_URL, else "
                           "http://CUNGDAN_INGEST_HOST:CUNGDAN_INGEST_PORT)")
    load.add_argument("--token", default=os.environ.get("CUNGDAN_TOKEN"),
                      help="API token with national scope (default: CUNGDAN_TOKEN)")
    token_commands.add_commands(commands)
    ops_commands.add_commands(commands)
    importing.add_command(commands)
    args = parser.parse_args(argv)
    service = {"demo": "ingest", "import": "ingest", "status": "projector",
               "deadletters": "projector", "rebuild": "projector"}.get(args.command)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print(f"cungdan {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("CUNGDAN_DEBUG"):
            raise
        print(f"cungdan {args.command}: {one_line(exc, service)}", file=sys.stderr)
        return exc.status if isinstance(exc, CommandError) else 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run(load_demo=not args.no_demo, cluster=args.cluster)
    if args.command in ("status", "deadletters", "rebuild"):
        return ops_commands.run_command(args)
    if args.command == "token":
        settings = RunSettings()
        tokens = TokenFile(args.file) if args.file else settings.tokens()
        try:
            return token_commands.run_command(args, tokens)
        except ValueError as exc:  # a malformed tokens file
            raise CommandError(f"the tokens file {tokens.path} is not valid: "
                               f"{str(exc).splitlines()[0]}") from exc
    if args.command == "import":
        return importing.run_command(args)
    counts = post_batches(args.ingest or ServiceAddresses().ingest, demo_reports(),
                          token=args.token)
    print(counts)
    return 0
