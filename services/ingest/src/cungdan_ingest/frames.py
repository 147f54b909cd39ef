"""Messages the journal frames itself, for nats-py to write as they are.

nats-py's ``publish`` checks and encodes every header of every message: 12.6 µs a message
with the journal's eight headers, against 4.3 µs for the same message framed here
(``python -m cungdan.bench.ingest_cpu --publish``), out of ~65 µs of ingest's CPU a report.
The journal's header names are constants and its values are ids, codes and digests it
made itself, so the block is rendered in one string and checked once for line breaks.

This leans on nats-py's private ``_send_command`` and ``_flush_pending`` (nats-py is pinned
``<3``). On a connection without them, and whenever nats-py's own checks matter (not
connected, draining, a payload above the server's limit), :meth:`FramedPublisher.publish`
hands the message to ``publish`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from nats.aio.client import Client
from nats.protocol.command import hpub_cmd

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""A header name (RFC 7230 token), as nats-py checks it."""

_PRIVATE = ("_send_command", "_flush_pending", "_flush_queue", "stats")


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


def can_frame(nc: object) -> bool:
    """Whether ``nc`` has the nats-py internals :class:`FramedPublisher` writes through."""
    return all(hasattr(nc, name) for name in _PRIVATE)


class FramedPublisher:
    """Publishes on one connection, framing each message itself when it can."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self.framed = can_frame(nc)

    async def publish(self, subject: str, reply: str, headers: Mapping[str, str],
                      payload: bytes) -> None:
        nc = self._nc
        if (not self.framed or not nc.is_connected or nc.is_draining_pubs
                or len(payload) > nc.max_payload):
            await nc.publish(subject, payload, reply=reply, headers=dict(headers))
            return
        # What nats-py's publish does once its checks pass (Client._send_publish).
        await nc._send_command(hpub_cmd(subject, reply, header_block(headers), payload))
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += len(payload)
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()
