"""The header blocks the journal renders itself, and when it hands a message to nats-py's
``publish`` instead (``cungdan_ingest.frames``). That the internals it writes through are
there, and write what ``publish`` would, is ``tests/unit/test_natspy.py``'s."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from cungdan_ingest.frames import FramedPublisher, header_block


@pytest.mark.parametrize("headers", [
    {"Nats-Msg-Id": "a\r\nNats-Expected-Stream: other"},  # a header smuggled in
    {"Nats-Msg-Id": "a\nb"},
    {"Nats-Msg-Id": "a\rb"},
    {"Bad Name": "a"},
    {"Bad:Name": "a"},
    {"": "a"},
])
def test_a_header_that_would_break_the_block_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="not a valid NATS header"):
        header_block(headers)


def test_the_block_is_the_nats_header_format() -> None:
    assert header_block({"A": "1", "Nats-Msg-Id": "x y"}) == (
        b"NATS/1.0\r\nA: 1\r\nNats-Msg-Id: x y\r\n\r\n")


@dataclass
class _Connection:
    """The parts of nats-py's Client that FramedPublisher touches, recording each way."""

    is_connected: bool = True
    is_draining_pubs: bool = False
    max_payload: int = 1024
    stats: dict[str, int] = field(default_factory=lambda: {"out_msgs": 0, "out_bytes": 0})
    _flush_queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    framed: list[bytes] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    flushes: int = 0

    async def _send_command(self, command: bytes) -> None:
        self.framed.append(command)

    async def _flush_pending(self) -> None:
        self.flushes += 1

    async def publish(self, subject: str, payload: bytes, reply: str,
                      headers: dict[str, str]) -> None:
        self.published.append(subject)


async def test_a_connected_client_gets_the_framed_command_and_a_flush() -> None:
    nc = _Connection()
    await FramedPublisher(nc).publish("s.a", "r.1", {"A": "1"}, b"{}")  # type: ignore[arg-type]
    assert nc.framed == [b"HPUB s.a r.1 18 20\r\nNATS/1.0\r\nA: 1\r\n\r\n{}\r\n"]
    assert nc.published == [] and nc.flushes == 1
    assert nc.stats == {"out_msgs": 1, "out_bytes": 2}


@pytest.mark.parametrize("state", [
    {"is_connected": False},  # reconnecting: nats-py buffers or refuses, as it decides
    {"is_draining_pubs": True},  # nats-py raises ConnectionDrainingError
    {"max_payload": 1},  # nats-py raises MaxPayloadError
])
async def test_nats_py_publishes_whenever_its_own_checks_matter(state: dict[str, Any]) -> None:
    nc = _Connection(**state)
    await FramedPublisher(nc).publish("s.a", "r.1", {"A": "1"}, b"{}")  # type: ignore[arg-type]
    assert nc.published == ["s.a"] and nc.framed == []


async def test_a_client_without_the_internals_gets_every_message_through_publish() -> None:
    class Plain:
        is_connected = True

        def __init__(self) -> None:
            self.published: list[str] = []

        async def publish(self, subject: str, payload: bytes, reply: str,
                          headers: dict[str, str]) -> None:
            self.published.append(subject)

    nc = Plain()
    publisher = FramedPublisher(nc)  # type: ignore[arg-type]
    assert publisher.framed is False
    await publisher.publish("s.a", "r.1", {"A": "1"}, b"{}")
    assert nc.published == ["s.a"]
