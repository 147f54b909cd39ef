"""The subjects a stream holds under a filter, from the server's own subject index.

``$JS.API.STREAM.INFO.<stream>`` with ``subjects_filter`` answers the matching subjects
(and their message counts) from the index the server keeps in memory, a page of at most
100,000 at a time (``offset`` for the next): no message is read. Ingest's NATS user may
ask it (``deploy/nats/nats-auth.conf``), where it may not create consumers.

The server gathers and sorts every matching subject for each page it answers: paging
through a million subjects sorts them ten times (22-30 s on the bench machine).
:func:`subjects_in_parts` asks for a big filter by parts that each fit in a page instead
(2.8 s of the server for a million, split by map and province).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from nats.aio.client import Client

INFO_SUBJECT = "$JS.API.STREAM.INFO.{stream}"
LISTING_SECONDS = 60.0
"""The longest wait for a page (the server gathers and sorts every match for each)."""


class SubjectListingError(RuntimeError):
    """The server refused or could not answer a subject listing."""


@dataclass(frozen=True, slots=True)
class Page:
    subjects: list[str]
    total: int
    """Subjects matching the filter, in all pages."""


async def page(nc: Client, stream: str, subject_filter: str, offset: int = 0) -> Page:
    """One page of the subjects of ``stream`` matching ``subject_filter``."""
    reply = await nc.request(
        INFO_SUBJECT.format(stream=stream),
        json.dumps({"subjects_filter": subject_filter, "offset": offset}).encode(),
        timeout=LISTING_SECONDS)
    answer = json.loads(reply.data)
    if "error" in answer:
        raise SubjectListingError(f"listing {subject_filter} of {stream}: "
                                  f"{answer['error'].get('description')}")
    return Page(list((answer.get("state") or {}).get("subjects") or ()),
                int(answer.get("total") or 0))


async def subject_pages(nc: Client, stream: str, subject_filter: str,
                        offset: int = 0) -> AsyncIterator[list[str]]:
    """The subjects of ``stream`` matching ``subject_filter``, a page at a time (from the
    ``offset``-th in the server's order)."""
    while True:
        found = await page(nc, stream, subject_filter, offset)
        if found.subjects:
            yield found.subjects
        offset += len(found.subjects)
        if not found.subjects or offset >= found.total:
            return


async def subjects(nc: Client, stream: str, subject_filter: str) -> list[str]:
    """Every subject of ``stream`` matching ``subject_filter``."""
    return [s async for p in subject_pages(nc, stream, subject_filter) for s in p]


async def subjects_in_parts(nc: Client, stream: str, subject_filter: str,
                            parts: Sequence[str]) -> AsyncIterator[list[str]]:
    """Every subject of ``stream`` matching ``subject_filter``, a page at a time: in one
    page if they fit, else through ``parts`` (filters within ``subject_filter``, that do
    not overlap). Should the parts miss some (a subject outside them), the whole filter
    is paged through after them: every subject comes at least once."""
    first = await page(nc, stream, subject_filter)
    if len(first.subjects) >= first.total:
        if first.subjects:
            yield first.subjects
        return
    found = 0
    for part in parts:
        async for subjects_ in subject_pages(nc, stream, part):
            found += len(subjects_)
            yield subjects_
    if found < first.total:
        yield first.subjects
        async for subjects_ in subject_pages(nc, stream, subject_filter, len(first.subjects)):
            yield subjects_
