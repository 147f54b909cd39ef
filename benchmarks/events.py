"""The benchmark's events: realistic reports (``tests.kits.loadgen``) and the exact messages
ingest appends for them.

Each event is made by ingest's own code (``validate_report`` then ``to_outgoing``), so the
subjects, payload bytes and headers are ingest's whatever the contract version; only
``recorded_at`` differs (a fixed time for pre-built streams). That costs ~0.1 ms per event,
so a big stream is made by worker processes, chunk by chunk, while it is being published.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tests.kits.loadgen import random_reports

from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_contracts.subjects import HEADER_MSG_ID, STREAM, Kind, layout1_logged_subject, parse
from cungdan_ingest.service import to_outgoing
from cungdan_ingest.settings import IngestSettings
from cungdan_ingest.validation import ValidReport, today_in_vietnam, validate_report

ID_FILTER_HEADER = "Nats-Expected-Last-Subject-Sequence-Subject"


@dataclass(frozen=True, slots=True)
class Event:
    """One message as ingest makes it (``cungdan_ingest.journal.Outgoing``), picklable."""

    subject: str
    payload: bytes
    headers: tuple[tuple[str, str], ...]
    id_filter: str
    key: tuple[Kind, str] | None = None

    @property
    def event_id(self) -> str:
        return dict(self.headers)[HEADER_MSG_ID]

    def in_layout1(self) -> Event:
        """The same event as ingest stored it before subject layout 2."""
        address = parse(self.subject)
        assert address is not None and address.kind is Kind.LOGGED
        subject = layout1_logged_subject(AdminMap(address.map), address.province,
                                         address.campaign, address.key,
                                         version=int(address.version[1:]))
        return Event(subject, self.payload, self.headers,
                     f"cungdan.activity.*.logged.*.*.*.{address.key}", None)

    def journal_headers(self) -> dict[str, str]:
        """The headers ``cungdan_ingest.journal.Journal`` sends (checked by
        :func:`benchmarks.natsload.check_journal_headers` on every run)."""
        return {
            **dict(self.headers),
            "Nats-Expected-Stream": STREAM,
            "Nats-Expected-Last-Subject-Sequence": "0",
            ID_FILTER_HEADER: self.id_filter,
        }

    def own_subject_headers(self) -> dict[str, str]:
        """The journal's headers, but the once-only check on the event's own subject: how
        the upgrade figure stores a big stream in layout 1, whose id filter (wildcards
        before the id) would cost the server time in proportion to the stream's size."""
        headers = self.journal_headers()
        del headers[ID_FILTER_HEADER]
        return headers


def reports(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` loadgen reports (ids unique per seed)."""
    return list(random_reports(count, seed=seed))


RECORDED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""``recorded_at`` of pre-built streams (ingest's own timestamps have the same length)."""


def events_for(raws: Sequence[dict[str, Any]],
               recorded_at: dt.datetime = RECORDED_AT) -> list[Event]:
    """What ingest appends for ``raws`` (all must be valid)."""
    gazetteer = load_gazetteer()
    today = today_in_vietnam(dt.datetime.now(dt.UTC))
    out = []
    for raw in raws:
        valid = validate_report(raw, gazetteer, today)
        if not isinstance(valid, ValidReport):
            raise ValueError(f"tests.kits.loadgen made an invalid report: {valid}\n{raw}")
        message = to_outgoing(valid, recorded_at)
        out.append(Event(message.subject, message.payload, tuple(message.headers.items()),
                         message.id_filter, message.key))
    return out


def _chunk(args: tuple[int, int]) -> list[Event]:
    count, seed = args
    return events_for(reports(count, seed))


def event_chunks(total: int, seed: int, chunk: int = 10_000,
                 processes: int = 2) -> Iterator[list[Event]]:
    """``total`` events in order, made by ``processes`` worker processes chunk by chunk.

    Chunk ``i`` uses seed ``seed * 1_000_003 + i``, so ids stay unique across chunks.
    """
    jobs = [(min(chunk, total - start), seed * 1_000_003 + i)
            for i, start in enumerate(range(0, total, chunk))]
    if processes <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _chunk(job)
        return
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        yield from pool.imap(_chunk, jobs)


def max_batch() -> int:
    """The ingest batch limit in force (``CUNGDAN_MAX_BATCH``)."""
    return IngestSettings().max_batch
