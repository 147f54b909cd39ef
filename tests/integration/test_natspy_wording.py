"""The wording of the server's refusals, as cungdan reads it (``cungdan_service.natspy``),
pinned on a real nats-server with cungdan's users (``deploy/nats/nats-auth.conf``): both
the server's own ``-ERR`` line and what nats-py makes of it. A server or nats-py that words
them differently fails here rather than silently in the projector's consumer (which stops
deleting its consumers once refused) or in a downstream reader's error callback."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from cungdan.processes import NatsServer
from cungdan_contracts.subjects import STREAM
from cungdan_service.natspy import is_consumer_delete_refused, is_permissions_violation

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-auth.conf"
ROLES = ("ingest", "projector", "reader")


class _Server:
    def __init__(self, server: NatsServer, passwords: dict[str, str]) -> None:
        self.server = server
        self.passwords = passwords

    async def connect(self, user: str, errors: list[Exception]) -> Client:
        async def record(error: Exception) -> None:
            errors.append(error)

        return await nats.connect(
            f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self.server.port}",
            inbox_prefix=f"_INBOX.{user}", error_cb=record, allow_reconnect=False)

    async def raw_refusal(self, user: str, command: str) -> str:
        """The ``-ERR`` line the server answers ``command`` with, read off the socket."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        try:
            await reader.readline()  # INFO
            connect = {"user": user, "pass": self.passwords[user], "verbose": False,
                       "pedantic": False, "headers": True, "protocol": 1}
            writer.write(f"CONNECT {json.dumps(connect)}\r\n{command}\r\nPING\r\n".encode())
            await writer.drain()
            lines = []
            while not lines or lines[-1] != "PONG":
                line = await asyncio.wait_for(reader.readline(), 5)
                lines.append(line.decode().rstrip("\r\n"))
            return next(line for line in lines if line.startswith("-ERR"))
        finally:
            writer.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    passwords = {role: "pw" + secrets.token_hex(16) for role in ROLES}  # see nats-auth.conf
    with pytest.MonkeyPatch.context() as env:
        for role, password in passwords.items():
            env.setenv(f"CUNGDAN_NATS_{role.upper()}_PASSWORD", password)
        base = tmp_path_factory.mktemp("nats-wording")
        with NatsServer(base / "store", log_dir=base, config_file=CONFIG) as server:
            yield _Server(server, passwords)


async def test_the_servers_own_words_for_a_refused_publish(broker: _Server) -> None:
    subject = f"$JS.API.CONSUMER.DELETE.{STREAM}.projector-1a2b"
    line = await broker.raw_refusal("projector", f"PUB {subject} 0\r\n")
    assert line == f"-ERR 'Permissions Violation for Publish to \"{subject}\"'"
    said = Exception(line)
    assert is_permissions_violation(said) and is_consumer_delete_refused(said)


async def test_the_servers_own_words_for_a_refused_subscription(broker: _Server) -> None:
    line = await broker.raw_refusal("reader", "SUB _INBOX.ingest.> 1")
    assert line == "-ERR 'Permissions Violation for Subscription to \"_INBOX.ingest.>\"'"
    assert is_permissions_violation(Exception(line))
    assert not is_consumer_delete_refused(Exception(line))


async def test_the_projector_refused_a_consumer_deletion(broker: _Server) -> None:
    """What the projector's consumer sees when it drops one of its consumers: no answer
    from the JetStream API, and the refusal in ``last_error`` and the error callback."""
    errors: list[Exception] = []
    nc = await broker.connect("projector", errors)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(nc.jetstream().delete_consumer(STREAM, "projector-1a2b"),
                                   2.0)
        assert str(nc.last_error) == ("nats: permissions violation for publish to "
                                      f'"$js.api.consumer.delete.{STREAM.lower()}.projector-1a2b"')
        assert is_consumer_delete_refused(nc.last_error)
        assert is_permissions_violation(nc.last_error)
        assert [str(e) for e in errors] == [str(nc.last_error)]
        assert nc.is_connected  # a refusal does not close the connection
    finally:
        await nc.close()


async def test_a_reader_refused_a_subscription(broker: _Server) -> None:
    """What a downstream reader's error callback receives (examples/downstream_consumer.py)."""
    errors: list[Exception] = []
    nc = await broker.connect("reader", errors)
    try:
        await nc.subscribe("_INBOX.ingest.>")
        await nc.flush(timeout=2)
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.02)
        assert [str(e) for e in errors] == [
            'nats: permissions violation for subscription to "_inbox.ingest.>"']
        assert is_permissions_violation(errors[0])
        assert not is_consumer_delete_refused(errors[0])
    finally:
        await nc.close()


async def test_an_allowed_action_reports_nothing(broker: _Server) -> None:
    errors: list[Exception] = []
    nc = await broker.connect("ingest", errors)
    try:
        await nc.publish("cungdan.activity.wording", b"{}")
        await nc.flush(timeout=2)
        assert errors == [] and not is_permissions_violation(nc.last_error)
        assert not is_consumer_delete_refused(nc.last_error)
    finally:
        await nc.close()
