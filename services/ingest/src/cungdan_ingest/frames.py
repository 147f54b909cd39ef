"""Messages the journal frames itself, for nats-py to write as they are.

nats-py's ``publish`` checks and encodes every header of every message, a large share of
ingest's CPU per report (``python -m benchmarks.ingest_cpu --publish`` measures both
ways). The journal's header names are constants and its values are ids, codes and
digests it made itself, so the block is rendered in one string and checked once for
line breaks.

Writing the framed command goes through nats-py internals, which
:mod:`cungdan_service.natspy` holds: on a nats-py without them, or not a version they
were tested with, :class:`FramedPublisher` hands every message to ``publish`` instead
(decided once, for the connection); and whenever nats-py's own checks matter (not
connected, draining, a payload above the server's limit), it hands that message to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from nats.aio.client import Client

from cungdan_service.natspy import Publish, can_frame, framed_publish, plain_publish

__all__ = ["FramedPublisher", "can_frame", "header_block"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""A header name (RFC 7230 token), as nats-py checks it."""


_NAMES: set[str] = set()
"""Header names found to be tokens (the journal's are a handful of constants)."""


def _tokens(names: Iterable[str]) -> bool:
    names = list(names)
    if not all(_TOKEN.fullmatch(name) for name in names):
        return False
    _NAMES.update(names)
    return True


def header_block(headers: Mapping[str, str]) -> bytes:
    """The NATS header block of ``headers``, values as they are (nats-py strips them).

    Raises ValueError for a name that is not a token or a value that holds a line break
    (which would end the block or add a header)."""
    block = "NATS/1.0\r\n" + "".join([
        f"{name}: {value}\r\n" for name, value in headers.items()]) + "\r\n"
    lines = len(headers) + 2
    if block.count("\n") != lines or block.count("\r") != lines or not (
            _NAMES.issuperset(headers) or _tokens(headers)):
        raise ValueError(f"not a valid NATS header: {dict(headers)!r}")
    return block.encode()


class FramedPublisher:
    """Publishes on one connection, framing each message itself when it can.

    ``publish(subject, reply, headers, payload)`` is the function chosen for the
    connection when this is made (framed, or nats-py's ``publish``), not a method that
    chooses on each call."""

    def __init__(self, nc: Client) -> None:
        self.framed = can_frame(nc)
        self.publish: Publish = (framed_publish(nc, header_block) if self.framed
                                 else plain_publish(nc))
