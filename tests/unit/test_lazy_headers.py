"""Headers parsed when read (``cungdan_projector.lazy_headers``) are the headers nats-py
parses on receipt, for the same bytes; statuses still take nats-py's own path."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from cungdan_projector.lazy_headers import LazyHeaders, is_plain, parse_headers_when_read

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


def test_the_overridden_methods_are_still_nats_pys() -> None:
    """An upgrade of nats-py that renames them must fail here, not in production."""
    assert callable(Client._process_headers)
    assert callable(Client._parse_header_lines)


@pytest.mark.parametrize("block", PLAIN)
async def test_plain_headers_parse_to_what_nats_py_gives(block: bytes) -> None:
    expected = await Client()._process_headers(block)
    assert is_plain(block)
    nc = Client()
    parse_headers_when_read(nc)
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
