"""In-memory stand-ins for the services' adapters, for database- and broker-free unit tests.

- :class:`MemoryGeneration` is the read model's shell in dictionaries: it loads what is
  known for a batch, asks :func:`cungdan_projector.fold.plan`, and applies the plan, the
  way :class:`cungdan_projector.store.GenerationStore` does in SQL.
- :class:`MemorySource` is a stream of messages held in a list, behind the projection's
  :class:`cungdan_projector.projection.Source` protocol (as faststream's ``TestNatsBroker``
  stands in for a server).
- :class:`SubjectJournal` is ingest's journal (:class:`cungdan_ingest.journal.Journal`) in
  a list: it finds and refuses messages by subject as JetStream does, and fails as a broker
  outage does, wholly (:class:`DownJournal`) or in the operations named in ``failing``.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from cungdan_contracts.subjects import Kind, history_filters, key_filter, layout1_key_filters
from cungdan_ingest.journal import AlreadyStored, AppendResult, NotStored, Outgoing, Stored
from cungdan_projector import fold
from cungdan_projector.delivery import Delivered
from cungdan_projector.items import BatchResult, Change, DeadLetter, Message
from cungdan_projector.rollup import Facts, Tally

TotalRow = tuple[str, str, int, str, str]
"""(map, locality, month or OVERALL, campaign, indicator)."""


@dataclass
class MemoryGeneration:
    """One generation of the read model, in memory."""

    number: int = 1
    at: int = 0
    activities: dict[str, Facts] = field(default_factory=dict)
    changes: set[str] = field(default_factory=set)
    parked: dict[int, Change] = field(default_factory=dict)
    sums: Counter[TotalRow] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def position(self) -> int:
        return self.at

    def known(self, needs: fold.Needs) -> fold.Known:
        stored = {i for i in needs.logged if i in self.activities}
        facts = {i: self.activities[i] for i in needs.changed if i in self.activities}
        wanted = needs.parked_for(stored, facts)
        parked: dict[str, list[Change]] = {}
        for seq in sorted(self.parked):
            change = self.parked[seq]
            if change.activity_id in wanted:
                parked.setdefault(change.activity_id, []).append(change)
        return fold.Known(stored, facts, {c for c in needs.changes if c in self.changes},
                          parked)

    def apply(self, batch: Sequence[Message], ahead: Tally | None = None) -> BatchResult:
        """Fold ``batch``; ``ahead``: the batch's sums made ahead (used where the plan says)."""
        if not batch:
            return BatchResult(0, 0, 0, self.at)
        plan = fold.plan(batch, self.at, self.known(fold.needs(fold.fresh(batch, self.at))),
                         sums_ahead=ahead is not None)
        self.write(plan, ahead)
        self.dead_letters += plan.dead_letters
        self.at = plan.position
        return plan.result()

    def write(self, plan: fold.Plan, ahead: Tally | None) -> None:
        for activity_id, (_, facts) in plan.new.items():
            self.activities[activity_id] = facts
        self.activities.update(plan.updated)
        self.changes.update(c.change_id for c in plan.changes)
        self.parked.update({c.seq: c for c in plan.park})
        for seq in plan.release:
            del self.parked[seq]
        tally = ahead if plan.sums_ahead and ahead is not None else plan.tally
        for (admin_map, locality, month, campaign), amounts in tally.totals().items():
            for indicator, units in amounts.items():
                self.sums[(admin_map, locality, month, campaign, indicator)] += units

    def total(self, locality: str, indicator: str, month: int = 0) -> int:
        """All-time (``month`` 0) or one month's sum, over maps and campaigns."""
        return sum(units for (_, where, when, _, code), units in self.sums.items()
                   if (where, when, code) == (locality, month, indicator))


@dataclass(frozen=True)
class FakeMsg:
    """What the projection reads of a delivered message."""

    subject: str
    data: bytes
    headers: dict[str, str] | None = None


class MemorySource:
    """A stream in a list: hands out batches of up to ``batch`` messages after a position."""

    def __init__(self, messages: Sequence[tuple[str, bytes]] = (), *, batch: int = 100) -> None:
        self.messages = [FakeMsg(subject, data) for subject, data in messages]
        self.batch = batch
        self.problem: str | None = None
        self.connected = True
        self.handed = 0
        self.in_hand = 0
        self.taken: list[list[int]] = []
        """The sequences of every batch handed out."""
        self.read_back: list[int] = []
        self.started_at: int | None = None
        self.closed = False
        self._arrived = asyncio.Event()

    def publish(self, subject: str, data: bytes) -> int:
        self.messages.append(FakeMsg(subject, data))
        self._arrived.set()
        return len(self.messages)

    def start(self, position: int) -> None:
        self.started_at = self.handed = position

    async def take(self) -> list[Delivered]:
        while self.handed >= len(self.messages):
            self._arrived.clear()
            await self._arrived.wait()
        first = self.handed + 1
        last = min(len(self.messages), self.handed + self.batch)
        batch = [Delivered(seq, len(self.messages) - seq, self.messages[seq - 1])  # type: ignore[arg-type]
                 for seq in range(first, last + 1)]
        self.handed = last
        self.in_hand += len(batch)
        self.taken.append([d.seq for d in batch])
        return batch

    async def release(self, count: int) -> None:
        self.in_hand -= count

    async def message_at(self, seq: int) -> FakeMsg:
        self.read_back.append(seq)
        return self.messages[seq - 1]

    async def close(self) -> None:
        self.closed = True


def subject_matches(subject_filter: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` the rest."""
    pattern = r"\.".join(".+" if token == ">" else "[^.]+" if token == "*" else re.escape(token)
                         for token in subject_filter.split("."))
    return re.fullmatch(pattern, subject) is not None


class StoredMessage(NamedTuple):
    subject: str
    headers: dict[str, str]
    payload: bytes


JOURNAL_READS = frozenset({"message_at", "last_on", "events_on", "find_id", "history"})


class SubjectJournal:
    """Sequences from 1; a message whose id filter matches a stored subject (or whose key a
    layout-1 subject carries) answers AlreadyStored(first such seq), as the real journal's
    subject sequence check and layout-1 lookup do. It looks in layout 1 for every id, as
    if the journal's layout-1 index held them all.

    ``failing`` names the operations that fail as in a broker outage: ``append_many``
    answers NotStored for every message (it never raises), a read raises ConnectionError."""

    def __init__(self) -> None:
        self.stored: list[StoredMessage] = []
        self.failing: set[str] = set()
        self.offered = 0
        """Messages offered to ``append_many`` (stored or not)."""

    def put(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> int:
        self.stored.append(StoredMessage(subject, headers or {}, payload))
        return len(self.stored)

    def _read(self, operation: str) -> None:
        if operation in self.failing:
            raise ConnectionError("nats: connection closed")

    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]:
        self.offered += len(messages)
        if "append_many" in self.failing:
            return [NotStored("no acknowledgement from JetStream in time")] * len(messages)
        results: list[AppendResult] = []
        for message in messages:
            found = self.first(message.id_filter)
            if found is None and message.key is not None:
                found = self._find_id(*message.key)
            if found is not None:
                results.append(AlreadyStored(found[0]))
                continue
            results.append(Stored(self.put(message.subject, message.payload,
                                           dict(message.headers))))
        return results

    async def message_at(self, seq: int) -> bytes:
        self._read("message_at")
        return self.stored[seq - 1].payload

    def first(self, subject_filter: str) -> tuple[int, bytes] | None:
        return next(iter(self.all(subject_filter)), None)

    def all(self, subject_filter: str) -> list[tuple[int, bytes]]:
        return [(seq, payload) for seq, (subject, _, payload) in enumerate(self.stored, 1)
                if subject_matches(subject_filter, subject)]

    async def last_on(self, subject_filter: str) -> tuple[int, bytes] | None:
        self._read("last_on")
        return next(reversed(self.all(subject_filter)), None)

    async def events_on(self, subject_filter: str) -> list[tuple[int, bytes]]:
        """The last message of each subject matching ``subject_filter``, in stream order."""
        self._read("events_on")
        last: dict[str, tuple[int, bytes]] = {}
        for seq, (subject, _, payload) in enumerate(self.stored, 1):
            if subject_matches(subject_filter, subject):
                last[subject] = (seq, payload)
        return sorted(last.values())

    async def find_id(self, kind: Kind, key: str) -> tuple[int, bytes] | None:
        self._read("find_id")
        return self._find_id(kind, key)

    def _find_id(self, kind: Kind, key: str) -> tuple[int, bytes] | None:
        for subject_filter in (key_filter(kind, key), *layout1_key_filters(kind, key)):
            if (found := self.first(subject_filter)) is not None:
                return found
        return None

    async def history(self, activity_id: str) -> list[tuple[int, bytes]]:
        self._read("history")
        return sorted({m for f in history_filters(activity_id) for m in self.all(f)})


class DownJournal(SubjectJournal):
    """A broker outage: nothing is stored, nothing can be read."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = {"append_many", *JOURNAL_READS}
