"""The subjects a stream holds under a filter, from the server's own subject index.

``$JS.API.STREAM.INFO.<stream>`` with ``subjects_filter`` answers the matching subjects
(and their message counts) from the index the server keeps in memory, a page of at most
100,000 at a time (``offset`` for the next): no message is read. Ingest's NATS user may
ask it (``deploy/nats/nats-auth.conf``), where it may not create consumers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from nats.aio.client import Client

INFO_SUBJECT = "$JS.API.STREAM.INFO.{stream}"


class SubjectListingError(RuntimeError):
    """The server refused or could not answer a subject listing."""


LISTING_SECONDS = 60.0
"""The longest wait for a page (the server builds and sorts it: ~0.3 s a page at 1M)."""


async def subject_pages(nc: Client, stream: str,
                        subject_filter: str) -> AsyncIterator[list[str]]:
    """The subjects of ``stream`` matching ``subject_filter``, a page at a time."""
    offset = 0
    while True:
        reply = await nc.request(
            INFO_SUBJECT.format(stream=stream),
            json.dumps({"subjects_filter": subject_filter, "offset": offset}).encode(),
            timeout=LISTING_SECONDS)
        answer = json.loads(reply.data)
        if "error" in answer:
            raise SubjectListingError(f"listing {subject_filter} of {stream}: "
                                      f"{answer['error'].get('description')}")
        page = list((answer.get("state") or {}).get("subjects") or ())
        if page:
            yield page
        offset += len(page)
        if not page or offset >= int(answer.get("total") or 0):
            return


async def subjects(nc: Client, stream: str, subject_filter: str) -> list[str]:
    """Every subject of ``stream`` matching ``subject_filter``."""
    found: list[str] = []
    async for page in subject_pages(nc, stream, subject_filter):
        found += page
    return found
