"""Message headers parsed when first read, not when received (the projector's connection).

Every stored event carries eight headers (ingest's own, and the ``Nats-Expected-*`` ones
of its publish, which JetStream keeps). nats-py parses them into a dict for each message
it receives, ~9 µs a message: a fifth of the projector's reading process, and the
projector never looks at them. It reads an event's headers only to dead-letter it. With
:func:`parse_headers_when_read`, its connection keeps each message's header block as bytes
in :class:`LazyHeaders` and parses it on first access, the same way nats-py does.
Statuses (heartbeats, 404/408 ends of pull requests, errors) still arrive parsed, through
nats-py's own code.

This overrides nats-py's ``Client._process_headers`` on one connection: a private method
(nats-py 2.16). ``tests/unit/test_lazy_headers.py`` checks that the method is there and
that both paths give the same headers for the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MethodType

from nats.aio.client import Client

HEADER_LINE = b"NATS/1.0"
"""How a header block begins; a status follows it after a space (``NATS/1.0 100``)."""
CRLF = b"\r\n"


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


def parse_headers_when_read(nc: Client) -> None:
    """Make ``nc`` hand out messages whose plain headers are parsed on first access."""
    nc._process_headers = MethodType(_process_headers, nc)  # type: ignore[method-assign]
