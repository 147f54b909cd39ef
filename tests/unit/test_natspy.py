"""nats-py's internals as cungdan uses them (``cungdan_service.natspy``): the internal way
and the public fallback put the same bytes on the wire and give the same headers; the
choice is made once, by version and by the internals present; the server's wording of a
refusal is read in one place (pinned on a real server in
``tests/integration/test_natspy_wording.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.client import Client
from nats.errors import Error, TimeoutError

from cungdan_ingest.frames import FramedPublisher, header_block
from cungdan_service import natspy
from cungdan_service.natspy import (
    LazyHeaders,
    can_frame,
    can_parse_when_read,
    framed_publish,
    is_consumer_delete_refused,
    is_permissions_violation,
    is_plain,
    parse_headers_when_read,
    plain_publish,
)
from cungdan_service.versions import VersionsTested

UNTESTED = VersionsTested("nats-py", (0, 1), (0, 1))

JOURNAL_HEADERS = {
    "Nats-Msg-Id": "90584c3a-5d1e-4a8e-9a59-2b8f6f3c1d01",
    "Cungdan-Type": "ActivityLogged",
    "Cungdan-Version": "2",
    "Cungdan-Fingerprint": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Content-Type": "application/json",
    "Nats-Expected-Stream": "CUNGDAN_ACTIVITY",
    "Nats-Expected-Last-Subject-Sequence": "0",
    "Nats-Expected-Last-Subject-Sequence-Subject": "cungdan.activity.*.*.*.*.*.90584c3a",
}

PLAIN = [
    b"NATS/1.0\r\nNats-Msg-Id: 90584c3a\r\nCungdan-Type: ActivityLogged\r\n"
    b"Nats-Expected-Last-Subject-Sequence-Subject: cungdan.activity.*.*.90584c3a\r\n\r\n",
    b"NATS/1.0\r\nNats-Subject: a.b\r\nNats-Sequence: 12\r\nNats-Time-Stamp: "
    b"2026-11-22T09:00:00.1Z\r\n\r\n",
    "NATS/1.0\r\nX-Reported-By: Đoàn Thanh niên\r\nName:NoSpace\r\n\r\n".encode(),
]
STATUS = [
    b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 12\r\nNats-Last-Stream: 40\r\n\r\n",
    b"NATS/1.0 404 No Messages\r\n\r\n",
    b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\n\r\n",
    b"NATS/1.0 503\r\n\r\n",
]


def test_the_installed_nats_py_is_one_tested_and_has_the_internals() -> None:
    """An upgrade of nats-py that renames them, or one past NATS_PY, fails here (the
    services would fall back to the public API: correct, but slower)."""
    assert natspy.NATS_PY.allows("test")
    assert can_frame(Client())
    assert can_parse_when_read()


class _Wire:
    """A real nats-py Client, connected as far as ``publish`` can tell, that records the
    commands it would write and the flushes it would ask for."""

    def __init__(self, *, flush_queue: bool) -> None:
        nc = Client()
        nc._status = Client.CONNECTED
        nc._max_payload = 1024 * 1024
        nc._flush_queue = asyncio.Queue() if flush_queue else None
        self.nc = nc
        self.commands: list[bytes] = []
        self.flushes = 0

        async def send_command(cmd: bytes, priority: bool = False) -> None:
            self.commands.append(bytes(cmd))

        async def flush_pending(force_flush: bool = False) -> None:
            self.flushes += 1

        nc._send_command = send_command  # type: ignore[method-assign]
        nc._flush_pending = flush_pending  # type: ignore[method-assign]

    def seen(self) -> tuple[list[bytes], int, dict[str, int]]:
        stats = self.nc.stats
        return self.commands, self.flushes, {k: stats[k] for k in ("out_msgs", "out_bytes")}


@pytest.mark.parametrize("flush_queue", [True, False])
@pytest.mark.parametrize(("headers", "reply"), [
    (JOURNAL_HEADERS, "_INBOX.ingest.Xy12.7"),
    ({"A": "1"}, ""),
    ({"Nats-Msg-Id": "x y", "X-Note": "Đoàn Thanh niên"}, "r.1"),
])
async def test_framed_and_public_publish_put_the_same_bytes_on_the_wire(
        headers: dict[str, str], reply: str, flush_queue: bool) -> None:
    payload = '{"note": "Đoàn Thanh niên xã Phúc Lộc"}'.encode()
    framed, public = _Wire(flush_queue=flush_queue), _Wire(flush_queue=flush_queue)
    for _ in range(2):
        await framed_publish(framed.nc, header_block)("cungdan.activity.a", reply, headers,
                                                      payload)
        await plain_publish(public.nc)("cungdan.activity.a", reply, headers, payload)
    assert framed.seen() == public.seen()
    assert len(framed.commands) == 2 and framed.commands[0].startswith(b"HPUB cungdan.")
    assert framed.flushes == (2 if flush_queue else 0)


async def test_the_framed_path_hands_a_message_to_publish_when_its_checks_matter() -> None:
    wire = _Wire(flush_queue=True)
    published: list[int] = []

    async def publish(subject: str, payload: bytes = b"", reply: str = "",
                      headers: dict[str, str] | None = None) -> None:
        published.append(len(payload))

    wire.nc.publish = publish  # type: ignore[method-assign]
    send = framed_publish(wire.nc, header_block)
    await send("s", "", {"A": "1"}, b"x" * (wire.nc.max_payload + 1))
    wire.nc._status = Client.RECONNECTING
    await send("s", "", {"A": "1"}, b"{}")
    assert published == [wire.nc.max_payload + 1, 2] and wire.commands == []


def test_an_untested_nats_py_publishes_through_publish(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(natspy, "NATS_PY", UNTESTED)
    assert not can_frame(Client())
    assert FramedPublisher(Client()).framed is False


def test_a_client_without_the_internals_is_not_framed() -> None:
    class Plain:
        async def publish(self, subject: str, payload: bytes, reply: str,
                          headers: dict[str, str]) -> None:
            pass

    assert not can_frame(Plain())


async def test_an_unframed_publisher_gives_nats_py_the_same_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """FramedPublisher's two ways, chosen once per connection, write the same command."""
    framed, public = _Wire(flush_queue=True), _Wire(flush_queue=True)
    publisher = FramedPublisher(framed.nc)
    monkeypatch.setattr(natspy, "NATS_PY", UNTESTED)
    unframed = FramedPublisher(public.nc)
    assert publisher.framed and not unframed.framed
    await publisher.publish("cungdan.activity.a", "r.1", JOURNAL_HEADERS, b"{}")
    await unframed.publish("cungdan.activity.a", "r.1", JOURNAL_HEADERS, b"{}")
    assert framed.seen() == public.seen()


@pytest.mark.parametrize("block", PLAIN)
async def test_plain_headers_parse_to_what_nats_py_gives(block: bytes) -> None:
    expected = await Client()._process_headers(block)
    assert is_plain(block)
    nc = Client()
    assert parse_headers_when_read(nc)
    lazy = await nc._process_headers(block)
    assert isinstance(lazy, LazyHeaders)
    assert dict(lazy) == expected
    assert expected is not None and len(expected) >= 2
    first = next(iter(expected))
    assert lazy[first] == expected[first] and lazy.get("Absent") is None
    assert {**lazy} == expected  # how a dead letter copies them


@pytest.mark.parametrize("block", STATUS)
async def test_statuses_are_parsed_by_nats_py_on_receipt(block: bytes) -> None:
    nc = Client()
    parse_headers_when_read(nc)
    parsed = await nc._process_headers(block)
    assert not is_plain(block)
    assert type(parsed) is dict
    assert parsed == await Client()._process_headers(block)
    assert parsed["Status"] == block[9:12].decode()


async def test_no_headers_stay_none() -> None:
    nc = Client()
    parse_headers_when_read(nc)
    assert await nc._process_headers(b"") is None
    assert await nc._process_headers(b"NATS/1.0\r\n\r\n") is None


@pytest.mark.parametrize("block", [*PLAIN, *STATUS, b"", b"NATS/1.0\r\n\r\n"])
async def test_an_untested_nats_py_parses_on_receipt_to_the_same_headers(
        block: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = Client()
    assert parse_headers_when_read(lazy)
    monkeypatch.setattr(natspy, "NATS_PY", UNTESTED)
    nc = Client()
    own = nc._process_headers
    assert parse_headers_when_read(nc) is False
    assert nc._process_headers == own
    parsed = await nc._process_headers(block)
    via_lazy = await lazy._process_headers(block)
    assert (None if via_lazy is None else dict(via_lazy)) == parsed


def _server_error(text: str) -> Error:
    """The error nats-py makes of an ``-ERR 'text'`` line (Client._process_err)."""
    return Error(f"nats: {text.lower()}")


@pytest.mark.parametrize(("error", "violation", "delete_refused"), [
    (_server_error('Permissions Violation for Publish to '
                   '"$JS.API.CONSUMER.DELETE.CUNGDAN_ACTIVITY.projector-1a2b"'), True, True),
    (_server_error('Permissions Violation for Publish to "cungdan.activity.x"'), True, False),
    (_server_error('Permissions Violation for Subscription to "_INBOX.ingest.>"'), True, False),
    (Error("nats: Permissions Violation for Publish to \"$JS.API.CONSUMER.DELETE.S.C\""),
     True, True),  # as the server words it, should nats-py stop lowercasing
    (_server_error("Authorization Violation"), False, False),
    (TimeoutError(), False, False),
    (None, False, False),
])
def test_the_wording_of_a_refusal(error: BaseException | None, violation: bool,
                                  delete_refused: bool) -> None:
    assert is_permissions_violation(error) is violation
    assert is_consumer_delete_refused(error) is delete_refused


def test_a_fallback_is_logged_once(monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(natspy, "NATS_PY", VersionsTested("nats-py", (0, 2), (0, 2)))
    for _ in range(3):
        assert not can_parse_when_read()
    said: list[Any] = [r for r in caplog.records if "headers parsed when read" in r.message]
    assert len(said) == 1 and "public API" in said[0].message
