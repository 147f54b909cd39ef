"""The projection's rules, as a pure function: a batch and what is known -> a plan.

This is the functional core of the projector. It decides, for a batch of messages in
stream order and the state the read model already holds about them:

- exactly once: a message at or below the stored position was folded before; an
  activity id already stored, or a change id already applied, counts nothing again
  (redeliveries, ids published twice);
- corrections and retractions in any order (the activity's lifecycle is
  :mod:`cungdan_contracts.lifecycle`): a change moves the totals by the activity's new
  contributions minus its old ones; a change whose activity has not arrived is
  *parked* and applied when it arrives;
- dead letters: a message that could not be decoded is kept aside, and the position
  moves past it all the same.

The shell (:class:`.store.GenerationStore`) loads the known state for the ids the batch
names (:func:`needs`), calls :func:`plan`, and writes the plan in one transaction.
Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field

from cungdan_contracts import lifecycle

from .items import (
    NO_ORIGIN,
    BatchResult,
    Change,
    Corrected,
    DeadLetter,
    Item,
    Logged,
    Message,
    Origin,
    Retracted,
)
from .rollup import Facts, Tally


@dataclass(frozen=True, slots=True)
class Needs:
    """The ids a batch names, for which the shell loads what is known."""

    logged: set[str]
    """Activities the batch logs: which are stored already?"""
    changed: set[str]
    """Activities the batch changes: their current facts."""
    changes: set[str]
    """Changes the batch carries: which were applied already?"""

    def parked_for(self, stored: Set[str], facts: Mapping[str, Facts]) -> set[str]:
        """Activities logged by the batch for the first time, whose parked changes (if
        any) the fold needs."""
        return self.logged - stored - facts.keys()


@dataclass(frozen=True, slots=True)
class Known:
    """What the read model holds about the ids of :class:`Needs`."""

    stored: Set[str] = frozenset()
    """Of ``Needs.logged``, the activities already stored."""
    facts: Mapping[str, Facts] = field(default_factory=dict)
    """Of ``Needs.changed``, the current facts of those stored."""
    changes: Set[str] = frozenset()
    """Of ``Needs.changes``, those already applied."""
    parked: Mapping[str, Sequence[Change]] = field(default_factory=dict)
    """Changes parked for the activities of ``Needs.parked_for``, in stream order."""


@dataclass(slots=True)
class Plan:
    """What the shell writes, in one transaction, to fold a batch."""

    position: int
    """The stream position once the batch is folded."""
    tally: Tally
    """What to add to the all-time and monthly totals (empty when ``sums_ahead``)."""
    sums_ahead: bool = False
    """The sums made ahead of the batch are exactly what to add (see :func:`plan`)."""
    new: dict[str, tuple[Logged, Facts]] = field(default_factory=dict)
    """Activities to insert, with their facts after the batch's changes."""
    updated: dict[str, Facts] = field(default_factory=dict)
    """Stored activities whose facts the batch changed."""
    changes: list[Change] = field(default_factory=list)
    """Changes applied for the first time: their ids are recorded."""
    park: list[Change] = field(default_factory=list)
    """Changes whose activity has not arrived: kept until it does."""
    release: list[int] = field(default_factory=list)
    """Stream sequences of parked changes now applied."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counted: list[Item] = field(default_factory=list)
    """Items that counted for the first time, in stream order."""
    already: int = 0
    """Items counted before (redelivered, or an id published again)."""
    latest: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    """The newest ``recorded_at`` counted per (map, province), for freshness."""

    def result(self) -> BatchResult:
        by_source = Counter((i.origin.map, i.origin.province, i.origin.campaign)
                            for i in self.counted if i.origin is not NO_ORIGIN)
        return BatchResult(len(self.counted), self.already, len(self.dead_letters),
                           self.position, tuple((*key, n) for key, n in by_source.items()),
                           tuple((*key, at) for key, at in self.latest.items()))


def fresh(batch: Sequence[Message], position: int) -> list[Message]:
    """The messages of ``batch`` past ``position`` (the others were folded before)."""
    return [message for message in batch if message.seq > position]


def needs(items: Iterable[Message]) -> Needs:
    logged: set[str] = set()
    changed: set[str] = set()
    changes: set[str] = set()
    for item in items:
        if isinstance(item, Logged):
            logged.add(item.event_id)
        elif isinstance(item, Corrected | Retracted):
            changed.add(item.activity_id)
            changes.add(item.change_id)
    return Needs(logged, changed, changes)


def plan(batch: Sequence[Message], position: int, known: Known, *,
         sums_ahead: bool = False) -> Plan:
    """Fold the messages of ``batch`` past ``position``.

    ``sums_ahead``: the caller holds the sums of every activity of the batch, made ahead
    (:func:`.store.presum`). The plan uses them (and tallies nothing) only when they are
    what the fold adds: every message is past the position, and nothing stored changes
    the batch (no activity stored already, no change, none parked).
    """
    messages = fresh(batch, position)
    items = [m for m in messages if isinstance(m, Logged | Corrected | Retracted)]
    ahead = (sums_ahead and len(messages) == len(batch) and not known.stored
             and not known.parked and all(isinstance(i, Logged) for i in items))
    folded = fold(items, known, tally=not ahead)
    folded.sums_ahead = ahead
    folded.dead_letters = [m for m in messages if isinstance(m, DeadLetter)]
    folded.position = max(position, batch[-1].seq) if batch else position
    return folded


def fold(items: Sequence[Item], known: Known, *, tally: bool = True) -> Plan:
    """Apply activities and changes in stream order (no position check: see :func:`plan`).

    ``tally=False``: the new activities' contributions are not tallied (the caller has
    them made ahead); changes are, always.
    """
    out = Plan(position=0, tally=Tally())
    sums = out.tally
    state: dict[str, Facts] = dict(known.facts)
    applied = set(known.changes)
    waiting = {activity: list(changes) for activity, changes in known.parked.items()}
    parked = out.park
    touched: set[str] = set()

    def change(ch: Change) -> None:
        before = state.get(ch.activity_id)
        if before is None:
            parked.append(ch)  # its activity has not arrived (yet)
            return
        after = (lifecycle.corrected(before, ch.measures) if isinstance(ch, Corrected)
                 else lifecycle.retracted(before))
        state[ch.activity_id] = after
        touched.add(ch.activity_id)
        sums.add(before, -1)
        sums.add(after)

    for item in items:
        if isinstance(item, Logged):
            if item.event_id in state or item.event_id in known.stored:
                out.already += 1
                continue
            state[item.event_id] = item.facts
            out.new[item.event_id] = (item, item.facts)
            if tally:
                sums.add(item.facts)
            out.counted.append(item)
            for ch in waiting.pop(item.event_id, ()):
                out.release.append(ch.seq)
                change(ch)
            if parked:  # changes of this batch that came before their activity
                early = [ch for ch in parked if ch.activity_id == item.event_id]
                for ch in early:
                    parked.remove(ch)
                    change(ch)
        else:
            if item.change_id in applied:
                out.already += 1
                continue
            applied.add(item.change_id)
            out.changes.append(item)
            out.counted.append(item)
            change(item)
    for activity_id in touched:
        facts = state[activity_id]
        if activity_id in out.new:
            out.new[activity_id] = (out.new[activity_id][0], facts)
        else:
            out.updated[activity_id] = facts
    out.latest = latest_recorded(i.origin for i in out.counted)
    return out


def latest_recorded(origins: Iterable[Origin]) -> dict[tuple[str, str], dt.datetime]:
    """The newest ``recorded_at`` per (map, province) of these origins."""
    newest: dict[tuple[str, str], dt.datetime] = {}
    for origin in origins:
        if origin is NO_ORIGIN:
            continue
        key = (origin.map, origin.province)
        if key not in newest or origin.recorded_at > newest[key]:
            newest[key] = origin.recorded_at
    return newest
