"""What flows through the projection: stream messages decoded into items, and batch results.

A message of the stream becomes one of:

- :class:`Logged`: an activity, with the facts its totals need;
- :class:`Corrected` / :class:`Retracted`: a change to an earlier activity;
- :class:`DeadLetter`: a message that cannot be applied (it would fail the same way
  every time), kept aside with the reason.

Every item carries its stream sequence: the read model's position is the sequence of
the last message folded, so a batch delivered again counts once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .rollup import Facts


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event comes from, for freshness and metrics."""

    map: str
    province: str
    campaign: str
    recorded_at: dt.datetime


NO_ORIGIN = Origin("", "", "", dt.datetime.min.replace(tzinfo=dt.UTC))
"""For changes read back from the parked ones: they were noted when they arrived."""


@dataclass(frozen=True, slots=True)
class Logged:
    """A decoded ActivityLogged ready to apply."""

    seq: int
    event_id: str
    facts: Facts
    origin: Origin


@dataclass(frozen=True, slots=True)
class Corrected:
    """A decoded correction: the activity's new measures, in units."""

    seq: int
    change_id: str
    activity_id: str
    measures: dict[str, int]
    origin: Origin


@dataclass(frozen=True, slots=True)
class Retracted:
    """A decoded retraction (``change_id``: :func:`cungdan_contracts.lifecycle.retraction_id`)."""

    seq: int
    change_id: str
    activity_id: str
    origin: Origin


Change = Corrected | Retracted
Item = Logged | Change


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that cannot be applied: it goes to the dead letters with its reason."""

    seq: int
    subject: str
    reason: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class PeriodMark:
    """A decoded period event (:mod:`cungdan_contracts.periods`): a closing, a reopening
    or control totals of a province's period. It changes no totals; a closing snapshots
    them as they stand at its place in the stream (:mod:`.closings`)."""

    seq: int
    kind: str
    """``closed``, ``reopened`` or ``control``."""
    map: str
    province: str
    period: str
    closing: int
    at: dt.datetime
    by: str | None
    reason: str | None = None
    campaign: str | None = None
    """Control totals: their campaign and amounts (indicator -> units)."""
    measures: dict[str, int] | None = None


Message = Item | DeadLetter | PeriodMark
"""A stream message as the projection folds it."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    applied: int
    already_applied: int
    dead_lettered: int
    position: int
    counted: tuple[tuple[str, str, str, int], ...] = ()
    """Events counted by this batch per source (map, province, campaign, events)."""
    latest: tuple[tuple[str, str, dt.datetime], ...] = ()
    """The newest ``recorded_at`` counted per source (map, province)."""
    periods: tuple[tuple[str, int], ...] = ()
    """Period events applied (``closed``, ``reopened``, ``control``) and late amendments
    noted (``late``), with their counts."""
