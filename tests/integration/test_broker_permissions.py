"""NATS permissions of deploy/nats/nats-auth.conf, proven on a real nats-server: each role
(ingest, projector, downstream reader) x each action, allowed or denied.

An action is allowed when its real outcome is seen (an acknowledgement, a message
received, an answer of the JetStream API) and the server reported no violation; it is
denied when the server reports a permissions violation and the outcome never comes.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from tests.factories import report_v2 as report

from cungdan.client import wait_until_projected
from cungdan.processes import NatsServer, ServiceProcess, free_port
from cungdan_contracts.subjects import ALL_LOGGED, STREAM, STREAM_SUBJECTS
from cungdan_ingest.journal import CONSUMER_INACTIVE_SECONDS, stream_config
from cungdan_service.nats import connect_broker

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-auth.conf"
ROLES = ("ingest", "projector", "reader")
DEADLETTERS = StreamConfig(name="CUNGDAN_DEADLETTER", subjects=["cungdan.deadletter.>"])
DOWNSTREAM = "downstream"  # a reader's durable consumer, made in the fixture

# Each action as the role it is tried by; x: allowed, -: denied. (Ingest follows the period
# events with an ordered consumer: it could read every event by direct get before.)
TABLE = """
action                  ingest projector reader
stream-info             x      x         x
create-stream           x      -         -
update-stream           x      -         -
publish-event           x      -         -
direct-get              x      x         -
ordered-consumer        x      x         x
durable-pull-consumer   -      -         x
live-subscribe          -      -         x
publish-dead-letter     -      x         -
create-dead-letter-stream -    x         -
update-dead-letter-stream -    x         -
delete-stream           -      -         -
purge-stream            -      -         -
delete-consumer         -      -         -
snoop-inboxes           -      -         -
spoof-reply             -      -         -
"""


def _cases() -> list[tuple[str, str, bool]]:
    header, *rows = (line.split() for line in TABLE.strip().splitlines())
    return [(row[0], role, mark == "x")
            for row in rows for role, mark in zip(header[1:], row[1:], strict=True)]


CASES = _cases()


@dataclass
class Broker:
    server: NatsServer
    passwords: dict[str, str]
    published: list[int]
    """Sequences of the events published (by ingest) during the tests."""

    def url(self, user: str, password: str | None = None) -> str:
        return (f"nats://{user}:{password or self.passwords[user]}"
                f"@127.0.0.1:{self.server.port}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    passwords = {role: "pw" + secrets.token_hex(16) for role in ROLES}  # see nats-auth.conf
    with pytest.MonkeyPatch.context() as env:
        for role, password in passwords.items():
            env.setenv(f"CUNGDAN_NATS_{role.upper()}_PASSWORD", password)
        base = tmp_path_factory.mktemp("nats-auth")
        with NatsServer(base / "store", log_dir=base, config_file=CONFIG) as server:
            running = Broker(server, passwords, [])
            asyncio.run(_prepare(running))
            yield running


async def _prepare(broker: Broker) -> None:
    ingest = await _connect(broker, "ingest")
    await ingest.jetstream().add_stream(_activity_config())
    await _publish_event(ingest, broker)
    projector = await _connect(broker, "projector")
    await projector.jetstream().add_stream(DEADLETTERS)
    reader = await _connect(broker, "reader")
    await reader.jetstream().pull_subscribe(ALL_LOGGED, durable=DOWNSTREAM, stream=STREAM)
    for nc in (ingest, projector, reader):
        await nc.close()


def _activity_config() -> StreamConfig:
    return stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1)


async def _connect(broker: Broker, user: str, errors: Violations | None = None) -> Client:
    return await nats.connect(broker.url(user), inbox_prefix=f"_INBOX.{user}",
                              error_cb=errors.record if errors else None,
                              allow_reconnect=False)


async def _publish_event(nc: Client, broker: Broker) -> int:
    event_id = uuid.uuid4()
    ack = await nc.jetstream().publish(
        f"cungdan.activity.v1.logged.legacy.15.dan-van-kheo.{event_id}", b"{}",
        headers={"Nats-Msg-Id": str(event_id)}, timeout=3)
    broker.published.append(ack.seq)
    return ack.seq


class Violations:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.event = asyncio.Event()

    async def record(self, error: Exception) -> None:
        if "permissions violation" in str(error).lower():
            self.seen.append(str(error))
            self.event.set()


Action = Callable[[Client, Broker], Awaitable[None]]


async def _first_message(nc: Client, subject: str, then: Callable[[], Awaitable[object]]) -> None:
    received: asyncio.Queue[object] = asyncio.Queue()
    await nc.subscribe(subject, cb=received.put)
    await nc.flush()
    await then()
    await asyncio.wait_for(received.get(), 5)


async def _ordered_consumer(nc: Client, _: Broker) -> None:
    received: asyncio.Queue[object] = asyncio.Queue()
    await nc.jetstream().subscribe(ALL_LOGGED, stream=STREAM, ordered_consumer=True,
                                   cb=received.put, deliver_policy=DeliverPolicy.ALL)
    await asyncio.wait_for(received.get(), 5)


async def _durable_pull(nc: Client, _: Broker) -> None:
    sub = await nc.jetstream().pull_subscribe(
        ALL_LOGGED, durable=f"reader-{uuid.uuid4().hex[:8]}", stream=STREAM,
        config=ConsumerConfig(inactive_threshold=60))
    [msg] = await sub.fetch(1, timeout=5)
    await msg.ack_sync(timeout=5)


async def _live(nc: Client, broker: Broker) -> None:
    async def publish() -> None:
        ingest = await _connect(broker, "ingest")
        await _publish_event(ingest, broker)
        await ingest.close()
    await _first_message(nc, "cungdan.activity.>", publish)


async def _dead_letter(nc: Client, _: Broker) -> None:
    ack = await nc.jetstream().publish(f"cungdan.deadletter.activity.{uuid.uuid4().int}",
                                       b"{}", timeout=3)
    assert ack.stream == "CUNGDAN_DEADLETTER"


async def _core_publish(nc: Client, subject: str) -> None:
    await nc.publish(subject, b"x")
    await nc.flush()


async def _direct_get(nc: Client, _: Broker) -> None:
    msg = await nc.jetstream().get_msg(STREAM, 1, direct=True)
    assert msg.seq == 1


async def _publish(nc: Client, broker: Broker) -> None:
    await _publish_event(nc, broker)


async def _snoop(nc: Client, broker: Broker) -> None:
    """Read the replies JetStream sends to the ingest."""
    async def ingest_asks() -> None:
        ingest = await _connect(broker, "ingest")
        await ingest.jetstream().stream_info(STREAM)
        await ingest.close()
    await _first_message(nc, "_INBOX.>", ingest_asks)


async def _stream_info(nc: Client, _: Broker) -> None:
    assert (await nc.jetstream().stream_info(STREAM)).state.messages >= 1


async def _create(nc: Client, _: Broker) -> None:
    await nc.jetstream().add_stream(_activity_config())


async def _update(nc: Client, _: Broker) -> None:
    await nc.jetstream().update_stream(_activity_config())


async def _create_dead_letters(nc: Client, _: Broker) -> None:
    await nc.jetstream().add_stream(DEADLETTERS)


async def _update_dead_letters(nc: Client, _: Broker) -> None:
    await nc.jetstream().update_stream(DEADLETTERS)


async def _delete_stream(nc: Client, _: Broker) -> None:
    await nc.jetstream().delete_stream(STREAM)


async def _purge(nc: Client, _: Broker) -> None:
    await nc.jetstream().purge_stream(STREAM)


async def _delete_consumer(nc: Client, _: Broker) -> None:
    await nc.jetstream().delete_consumer(STREAM, DOWNSTREAM)


async def _spoof(nc: Client, broker: Broker) -> None:
    """Send the ingest a forged reply (say, an acknowledgement)."""
    ingest = await _connect(broker, "ingest")
    try:
        await _first_message(ingest, "_INBOX.ingest.spoofed.>",
                             lambda: _core_publish(nc, "_INBOX.ingest.spoofed.1"))
    finally:
        await ingest.close()


ACTIONS: dict[str, Action] = {
    "stream-info": _stream_info,
    "create-stream": _create,
    "update-stream": _update,
    "publish-event": _publish,
    "direct-get": _direct_get,
    "ordered-consumer": _ordered_consumer,
    "durable-pull-consumer": _durable_pull,
    "live-subscribe": _live,
    "publish-dead-letter": _dead_letter,
    "create-dead-letter-stream": _create_dead_letters,
    "update-dead-letter-stream": _update_dead_letters,
    "delete-stream": _delete_stream,
    "purge-stream": _purge,
    "delete-consumer": _delete_consumer,
    "snoop-inboxes": _snoop,
    "spoof-reply": _spoof,
}


async def _attempt(broker: Broker, role: str, action: Action) -> tuple[bool, list[str]]:
    """(whether the action's outcome was seen, the violations the server reported)."""
    violations = Violations()
    nc = await _connect(broker, role, violations)
    try:
        attempt = asyncio.create_task(action(nc, broker))
        refused = asyncio.create_task(violations.event.wait())
        done, pending = await asyncio.wait({attempt, refused}, timeout=8,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        succeeded = attempt in done and attempt.exception() is None
        if attempt in done and not succeeded and not violations.seen:
            raise AssertionError(f"{role} failed otherwise: {attempt.exception()!r}")
        # The server answers a command it refuses with -ERR before it answers the PING of
        # this flush, and the client's reader runs error_cb before it reads on: once the
        # PONG is in, every violation of what the action sent has been recorded.
        await nc.flush()
        return succeeded, violations.seen
    finally:
        await nc.close()


@pytest.mark.parametrize(("action", "role", "allowed"), CASES,
                         ids=[f"{r}-{a}" for a, r, _ in CASES])
async def test_permission(broker: Broker, action: str, role: str, allowed: bool) -> None:
    succeeded, violations = await _attempt(broker, role, ACTIONS[action])
    if allowed:
        assert succeeded and not violations, violations
    else:
        assert violations and not succeeded, f"{role} could {action}"
        assert "permissions violation" in violations[0].lower()


async def test_a_readers_durable_consumer_goes_once_unused(broker: Broker) -> None:
    """``reader`` cannot delete its consumers: the stream gives each one an inactive
    threshold (``CONSUMER_INACTIVE_SECONDS`` unless asked for less) and refuses more."""
    reader = await _connect(broker, "reader")
    try:
        js = reader.jetstream()
        name = f"reader-{uuid.uuid4().hex[:8]}"
        await js.pull_subscribe(ALL_LOGGED, durable=name, stream=STREAM)
        info = await js.consumer_info(STREAM, name)
        assert info.config.inactive_threshold == CONSUMER_INACTIVE_SECONDS
        with pytest.raises(BadRequestError, match="inactive threshold exceeds"):
            await js.add_consumer(STREAM, ConsumerConfig(
                durable_name=f"{name}-forever", inactive_threshold=2 * CONSUMER_INACTIVE_SECONDS))
        short = f"{name}-short"
        await js.add_consumer(STREAM, ConsumerConfig(durable_name=short, inactive_threshold=1))
        await js.consumer_info(STREAM, short)
        for _ in range(100):  # the server removes it about a second after
            await asyncio.sleep(0.1)
            try:
                await js.consumer_info(STREAM, short)
            except NotFoundError:
                break
        else:
            raise AssertionError(f"{short} still there 10 s after its inactive threshold")
    finally:
        await reader.close()


def test_the_stream_holds_only_what_ingest_published(broker: Broker) -> None:
    jsz = httpx.get(f"http://127.0.0.1:{broker.server.http_port}/jsz?streams=true",
                    trust_env=False).json()
    streams = {s["name"]: s["state"] for a in jsz["account_details"] for s in a["stream_detail"]}
    assert streams[STREAM]["messages"] == len(broker.published)
    assert streams[STREAM]["last_seq"] == max(broker.published)


@pytest.mark.parametrize(("user", "password"), [
    ("ingest", "wrong"), ("nobody", "x"), ("reader", ""),
])
async def test_unknown_users_and_wrong_passwords_cannot_connect(
    broker: Broker, user: str, password: str
) -> None:
    url = broker.url(user, password) if password else f"nats://127.0.0.1:{broker.server.port}"
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(url, allow_reconnect=False, connect_timeout=2)


async def test_connect_broker_passes_credentials_from_url_or_settings(broker: Broker) -> None:
    by_url = await connect_broker(broker.url("ingest"), 5)
    try:
        assert by_url.connection.new_inbox().startswith("_INBOX.ingest.")
        await _publish_event(by_url.connection, broker)  # only ingest may
    finally:
        await by_url.stop()
    plain = f"nats://127.0.0.1:{broker.server.port}"
    by_settings = await connect_broker(plain, 5, user="projector",
                                       password=broker.passwords["projector"])
    try:
        await _ordered_consumer(by_settings.connection, broker)  # as the projector
    finally:
        await by_settings.stop()
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await connect_broker(plain, 5, user="projector", password="wrong")


def test_the_services_work_under_their_own_users(broker: Broker, tmp_path: Path) -> None:
    """Ingest (user and password from settings) and projector (credentials in the URL),
    as real processes: a report goes in, is stored once, and is projected."""
    plain = f"nats://127.0.0.1:{broker.server.port}"
    common = {"CUNGDAN_NATS_CONNECT_TIMEOUT_SECONDS": "5"}
    ingest_port, projector_port = free_port(), free_port()
    ingest = ServiceProcess(
        [sys.executable, "-m", "cungdan_ingest"], port=ingest_port, log_file=tmp_path / "i.log",
        env={**common, "CUNGDAN_NATS_URL": plain, "CUNGDAN_NATS_USER": "ingest",
             "CUNGDAN_NATS_PASSWORD": broker.passwords["ingest"],
             "CUNGDAN_INGEST_PORT": str(ingest_port)})
    projector = ServiceProcess(
        [sys.executable, "-m", "cungdan_projector"], port=projector_port,
        log_file=tmp_path / "p.log",
        env={**common, "CUNGDAN_NATS_URL": broker.url("projector"),
             "CUNGDAN_PROJECTOR_PORT": str(projector_port),
             "CUNGDAN_DATABASE_URL": f"sqlite:///{tmp_path / 'rm.sqlite3'}"})
    with ingest, projector:
        body = report(id=str(uuid.uuid4()), locality="04495", date="2023-05-06")
        response = httpx.post(f"http://127.0.0.1:{ingest_port}/v1/activities", json=body,
                              trust_env=False, timeout=10)
        assert response.status_code == 202, response.text
        broker.published.append(response.json()["seq"])
        wait_until_projected(f"http://127.0.0.1:{projector_port}", response.json()["seq"])
    # Read once both stopped: the projector gives its consumer up on the way out, and
    # must not try to delete it (its user may not).
    logs = (tmp_path / "i.log").read_text() + (tmp_path / "p.log").read_text()
    assert "permissions violation" not in logs.lower(), logs
    assert "CONSUMER.DELETE.CUNGDAN_ACTIVITY.projector-g" not in broker.server.log_file.read_text()
    for password in broker.passwords.values():
        assert password not in logs
