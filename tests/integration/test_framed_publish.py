"""Messages the journal frames itself (``cungdan_ingest.frames``) arrive as nats-py's own
``publish`` sends them, on a real nats-server, and so do those of a publisher that falls
back to ``publish`` (``cungdan_service.natspy``); nats-py's checks still refuse what they
refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import MaxPayloadError

from cungdan.processes import NatsServer
from cungdan_ingest.frames import FramedPublisher
from cungdan_service import natspy
from cungdan_service.natspy import can_frame
from cungdan_service.versions import VersionsTested

pytestmark = pytest.mark.integration

HEADERS = {
    "Nats-Msg-Id": "90584c3a-5d1e-4a8e-9a59-2b8f6f3c1d01",
    "Cungdan-Type": "ActivityLogged",
    "Cungdan-Fingerprint": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Content-Type": "application/json",
    "Nats-Expected-Last-Subject-Sequence-Subject": "cungdan.activity.*.*.*.90584c3a",
}


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url, connect_timeout=2)
    yield client
    await client.close()


async def _received(nc: Client, send: Any) -> Msg:
    got: asyncio.Queue[Msg] = asyncio.Queue()

    async def keep(msg: Msg) -> None:
        await got.put(msg)

    sub = await nc.subscribe("frames.>", cb=keep)
    await send()
    msg = await asyncio.wait_for(got.get(), 2.0)
    await sub.unsubscribe()
    return msg


async def test_a_framed_message_arrives_as_nats_py_would_send_it(nc: Client) -> None:
    publisher = FramedPublisher(nc)
    assert publisher.framed and can_frame(nc)
    payload = '{"note": "Đoàn Thanh niên xã Phúc Lộc"}'.encode()

    async def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the framed path must not go through publish")

    async def framed() -> None:
        own, nc.publish = nc.publish, refuse  # type: ignore[method-assign]
        try:
            await publisher.publish("frames.a", "reply.1", HEADERS, payload)
        finally:
            nc.publish = own  # type: ignore[method-assign]

    sent_before = nc.stats["out_msgs"]
    ours = await _received(nc, framed)
    theirs = await _received(
        nc, lambda: nc.publish("frames.a", payload, reply="reply.1", headers=HEADERS))
    assert (ours.subject, ours.reply, ours.data) == (theirs.subject, theirs.reply, theirs.data)
    assert ours.headers == theirs.headers == HEADERS
    assert nc.stats["out_msgs"] == sent_before + 2


async def test_a_publisher_of_an_untested_nats_py_sends_the_same_message(
        nc: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(natspy, "NATS_PY", VersionsTested("nats-py", (0, 1), (0, 1)))
    publisher = FramedPublisher(nc)
    assert not publisher.framed
    payload = b'{"a": 1}'
    ours = await _received(
        nc, lambda: publisher.publish("frames.b", "reply.2", HEADERS, payload))
    theirs = await _received(
        nc, lambda: nc.publish("frames.b", payload, reply="reply.2", headers=HEADERS))
    assert (ours.subject, ours.reply, ours.data) == (theirs.subject, theirs.reply, theirs.data)
    assert ours.headers == theirs.headers == HEADERS


async def test_nats_py_still_refuses_a_payload_above_the_servers_limit(nc: Client) -> None:
    with pytest.raises(MaxPayloadError):
        await FramedPublisher(nc).publish("frames.a", "", HEADERS, b"x" * (nc.max_payload + 1))


async def test_a_closed_connection_is_refused_as_by_nats_py(nc: Client) -> None:
    await nc.close()
    with pytest.raises(nats.errors.ConnectionClosedError):
        await FramedPublisher(nc).publish("frames.a", "", HEADERS, b"{}")
