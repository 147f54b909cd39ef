"""The header blocks the journal renders itself (``cungdan_ingest.frames``)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from cungdan_ingest.frames import can_frame, header_block


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


def test_the_internals_it_writes_through_are_still_nats_pys() -> None:
    """An upgrade of nats-py that renames them must fail here (ingest would fall back to
    ``publish``, correct but slower)."""
    assert can_frame(Client())
