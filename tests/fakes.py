"""In-memory stand-ins for the projector's adapters, for database- and broker-free unit tests.

- :class:`MemoryGeneration` is the read model's shell in dictionaries: it loads what is
  known for a batch, asks :func:`cungdan_projector.fold.plan`, and applies the plan, the
  way :class:`cungdan_projector.store.GenerationStore` does in SQL.
- :class:`MemorySource` is a stream of messages held in a list, behind the projection's
  :class:`cungdan_projector.projection.Source` protocol (as faststream's ``TestNatsBroker``
  stands in for a server).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

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
