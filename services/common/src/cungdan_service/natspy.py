"""Everything cungdan borrows from nats-py's internals, and how it reads the server's errors.

Two hot paths lean on private parts of nats-py's ``Client``, because its public API
spends per message what they save:

* ingest's framed publish (``cungdan_ingest.frames``): nats-py's ``publish`` checks and
  encodes every header of every message, while the journal's header block is rendered
  once as a string. :func:`framed_publish` writes the ready ``HPUB`` command through
  ``_send_command``, counts it in ``stats`` and flushes with ``_flush_pending`` when
  ``_flush_queue`` is empty: what ``Client._send_publish`` does once ``publish``'s
  checks have passed;
* the projector's connection (:func:`parse_headers_when_read`): nats-py parses the
  headers of each message it receives into a dict, which the projector almost never
  reads. Overriding ``Client._process_headers`` on one connection keeps a plain header
  block as bytes, parsed by ``Client._parse_header_lines`` on first access.

Both are chosen once, when the publisher or the connection is set up, never per message:
the internals when the installed nats-py is a version they were tested with
(:data:`NATS_PY`) and has them all, else the public API (``publish`` with headers;
nats-py's own parsing on receipt), which gives the same bytes on the wire and the same
headers (``tests/unit/test_natspy.py``).

nats-py reports the server's ``-ERR`` lines through the error callback and
``Client.last_error`` as ``nats.errors.Error`` whose text is the server's, lowercased
(``nats: permissions violation for publish to "<subject>"``). :func:`is_permissions_violation`
and :func:`is_consumer_delete_refused` read that wording in one place;
``tests/integration/test_natspy_wording.py`` pins it against a real nats-server.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import MethodType
from typing import Protocol

from nats.aio.client import Client

from .versions import VersionsTested

NATS_PY = VersionsTested("nats-py", (2, 16), (2, 16))
"""The nats-py versions the internals below were tested with."""

_FRAMING = ("_send_command", "_flush_pending", "_flush_queue", "stats")
"""What a connection needs for the framed publish."""

HEADER_LINE = b"NATS/1.0"
"""How a header block begins; a status follows it after a space (``NATS/1.0 100``)."""
CRLF = b"\r\n"

PERMISSIONS_VIOLATION = "permissions violation"
"""The server's words (``-ERR 'Permissions Violation for Publish to "<subject>"'``, or
``for Subscription to``), compared without case: nats-py lowercases them."""
CONSUMER_DELETE = "$js.api.consumer.delete."
"""The JetStream API subject of a consumer's deletion, lowercased as nats-py reports it."""


class Publish(Protocol):
    """Publishes one message whose headers are ready to send as they are."""

    def __call__(self, subject: str, reply: str, headers: Mapping[str, str],
                 payload: bytes) -> Awaitable[None]: ...


def _hpub_cmd() -> Callable[[str, str, bytes, bytes], bytes] | None:
    """nats-py's encoder of an ``HPUB`` command, if this nats-py has it where 2.16 does."""
    try:
        command = importlib.import_module("nats.protocol.command")
    except ImportError:
        return None
    encode: Callable[[str, str, bytes, bytes], bytes] | None = getattr(command, "hpub_cmd", None)
    return encode


def can_frame(nc: object) -> bool:
    """Whether :func:`framed_publish` may write on ``nc``: a tested nats-py, with the
    internals it writes through."""
    missing = [name for name in _FRAMING if not hasattr(nc, name)]
    if _hpub_cmd() is None:
        missing.append("nats.protocol.command.hpub_cmd")
    return NATS_PY.allows("framed publish", missing)


def plain_publish(nc: Client) -> Publish:
    """Publishes through nats-py's ``publish``, which checks and encodes the headers."""

    async def publish(subject: str, reply: str, headers: Mapping[str, str],
                      payload: bytes) -> None:
        await nc.publish(subject, payload, reply=reply, headers=dict(headers))

    return publish


def framed_publish(nc: Client, header_block: Callable[[Mapping[str, str]], bytes]) -> Publish:
    """Publishes the ``HPUB`` command of a message whose header block ``header_block``
    renders, through nats-py's internals; nats-py's ``publish`` takes the message
    whenever its own checks matter (not connected, draining, a payload above the
    server's limit). Only for a connection :func:`can_frame` accepts."""
    hpub_cmd = _hpub_cmd()
    if hpub_cmd is None:
        raise RuntimeError("this nats-py cannot frame messages: check can_frame first")

    async def publish(subject: str, reply: str, headers: Mapping[str, str],
                      payload: bytes) -> None:
        if not nc.is_connected or nc.is_draining_pubs or len(payload) > nc.max_payload:
            await nc.publish(subject, payload, reply=reply, headers=dict(headers))
            return
        # What nats-py's publish does once its checks pass (Client._send_publish).
        await nc._send_command(hpub_cmd(subject, reply, header_block(headers), payload))
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += len(payload)
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

    return publish


class LazyHeaders(Mapping[str, str]):
    """A read-only mapping of a message's headers, parsed on first access."""

    __slots__ = ("_parsed", "_raw")

    def __init__(self, block: bytes) -> None:
        self._raw: bytes | None = block
        self._parsed: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        parsed = self._parsed
        if parsed is None:
            assert self._raw is not None
            parsed = self._parsed = Client._parse_header_lines(
                self._raw[len(HEADER_LINE) + len(CRLF):])
            self._raw = None
        return parsed

    def __getitem__(self, key: str) -> str:
        return self._headers()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())

    def __repr__(self) -> str:
        return f"LazyHeaders({self._headers()!r})"


def is_plain(block: bytes) -> bool:
    """A header block with headers and no status, which nats-py would parse as lines (an
    empty one, ``NATS/1.0`` and two line ends, is left to nats-py: it gives None)."""
    return (block.startswith(HEADER_LINE) and len(block) > len(HEADER_LINE) + 2 * len(CRLF)
            and block[len(HEADER_LINE)] != ord(" "))


async def _process_headers(self: Client, headers: bytes) -> Mapping[str, str] | None:
    if headers and is_plain(headers):
        return LazyHeaders(headers)
    result: Mapping[str, str] | None = await Client._process_headers(self, headers)
    return result


def can_parse_when_read() -> bool:
    """Whether :func:`parse_headers_when_read` may override this nats-py's parsing."""
    missing = [name for name in ("_process_headers", "_parse_header_lines")
               if not callable(getattr(Client, name, None))]
    return NATS_PY.allows("headers parsed when read", missing)


def parse_headers_when_read(nc: Client) -> bool:
    """Make ``nc`` hand out messages whose plain headers are parsed on first access, in a
    :class:`LazyHeaders`; statuses (heartbeats, ends of pull requests, errors) still
    arrive parsed, through nats-py's own code. Returns False, leaving ``nc`` to parse
    every header on receipt as usual, when this nats-py is not one it was tested with."""
    if not can_parse_when_read():
        return False
    nc._process_headers = MethodType(_process_headers, nc)  # type: ignore[method-assign]
    return True


def is_permissions_violation(error: BaseException | None) -> bool:
    """Whether ``error`` (from nats-py's error callback, or ``Client.last_error``) is the
    server refusing this connection's user a publish or a subscription."""
    return PERMISSIONS_VIOLATION in str(error).lower()


def is_consumer_delete_refused(error: BaseException | None) -> bool:
    """Whether ``error`` is the server refusing this connection's user the deletion of a
    JetStream consumer (which then expires by its inactive threshold)."""
    text = str(error).lower()
    return PERMISSIONS_VIOLATION in text and CONSUMER_DELETE in text
