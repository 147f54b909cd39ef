"""Closings of reporting periods in the read model: frozen figures, late amendments.

A province's period is closed by a ``PeriodClosed`` event at some place in the stream. The
projector applies the stream in order, so when it applies the closing, the read model holds
exactly the events before it: the closing's figures are the totals of that province and
every locality below it, for the period's days, at that moment. They are copied then into
``closing_totals`` under the closing's number (:func:`apply_mark`) and never change: a
report, correction or retraction stored after the closing moves the live totals only, and
is noted as a *late amendment* of the closed period (:func:`late_rows`). A reopening marks
the closing reopened; closing again makes a new closing with new figures; earlier closings
stay readable. A rebuild applies the same events in the same order and so copies the same
figures.

The store splits a batch at its period events (:func:`segments`) and folds the activity
messages between them as before, writing each part before the next, in one transaction.
The rules that need no database are the pure functions here; the rest is SQL on the
generation's tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, false, func, select, update

from cungdan_contracts import INDICATORS
from cungdan_contracts.period_dates import period_range, periods_of

from .fold import Plan
from .items import Change, Item, Logged, Message, PeriodMark
from .rollup import Facts
from .schema import GenerationTables

OpenClosings = dict[tuple[str, str, str], int]
"""(map, province, period) -> the number of its closing in force (not reopened)."""

_CODES = tuple(INDICATORS)


# --- pure rules ---------------------------------------------------------------------------


def segments(batch: Sequence[Message]) -> list[list[Message] | PeriodMark]:
    """The batch cut at its period events: runs of other messages, and each period event
    alone, in stream order."""
    out: list[list[Message] | PeriodMark] = []
    run: list[Message] = []
    for message in batch:
        if isinstance(message, PeriodMark):
            if run:
                out.append(run)
                run = []
            out.append(message)
        else:
            run.append(message)
    if run:
        out.append(run)
    return out


def frozen_figures(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], list[int]]:
    """The figures of a closing from the activities' rows ``(path, campaign, amounts...)``
    (counted activities of the province in the period): each activity adds to its locality
    and every one above it up to the province (not to the nation), per campaign."""
    figures: dict[tuple[str, str], list[int]] = {}
    for path, campaign, *amounts in rows:
        # an activity reports a few of the indicators: only those are added, to each level
        nonzero = [(i, int(amount)) for i, amount in enumerate(amounts) if amount]
        if not nonzero:
            continue
        for locality in str(path).split(",")[:-1]:  # the nation (last) is not the province's
            row = figures.get((locality, campaign))
            if row is None:
                row = figures[(locality, campaign)] = [0] * len(_CODES)
            for i, amount in nonzero:
                row[i] += amount
    return {key: row for key, row in figures.items() if any(row)}


def _province(path: Sequence[str]) -> str:
    return path[-2] if len(path) >= 2 else ""


def late_rows(plan: Plan, open_closings: Mapping[tuple[str, str, str], int]
              ) -> list[dict[str, Any]]:
    """The late amendments of a folded part: each event it counted that is dated in a
    period closed for its province (one row per such period)."""
    if not open_closings:
        return []
    rows: list[dict[str, Any]] = []
    for item in plan.counted:
        facts = _facts_of(item, plan)
        if facts is None:
            continue  # a change parked until its activity arrives: it moved nothing
        key_map, province = facts.map.value, _province(facts.path)
        for period in periods_of(facts.day):
            closing = open_closings.get((key_map, province, period))
            if closing is not None:
                kind = "logged" if isinstance(item, Logged) else type(item).__name__.lower()
                activity = item.event_id if isinstance(item, Logged) else item.activity_id
                rows.append({"seq": item.seq, "map": key_map, "province": province,
                             "period": period, "closing": closing, "activity_id": activity,
                             "kind": kind})
    return rows


def _facts_of(item: Item, plan: Plan) -> Facts | None:
    if isinstance(item, Logged):
        return item.facts
    change: Change = item
    if change.activity_id in plan.updated:
        return plan.updated[change.activity_id]
    new = plan.new.get(change.activity_id)
    return new[1] if new is not None else None


# --- SQL ----------------------------------------------------------------------------------


def open_closings(conn: Connection, tables: GenerationTables) -> OpenClosings:
    t = tables.closings
    rows = conn.execute(select(t.c.map, t.c.province, t.c.period, t.c.closing)
                        .where(t.c.reopened_seq.is_(None)))
    return {(r.map, r.province, r.period): int(r.closing) for r in rows}


def apply_mark(conn: Connection, tables: GenerationTables, mark: PeriodMark,
               opened: OpenClosings, *, day: Any) -> None:
    """Apply one period event (past the position) and keep ``opened`` up to date.

    ``day``: how a date is bound (ISO text in SQLite)."""
    key = (mark.map, mark.province, mark.period)
    if mark.kind == "closed":
        conn.execute(tables.closings.insert().values(
            map=mark.map, province=mark.province, period=mark.period, closing=mark.closing,
            seq=mark.seq, closed_at=mark.at, closed_by=mark.by, reason=mark.reason or ""))
        _freeze(conn, tables, mark, day)
        opened[key] = mark.closing
    elif mark.kind == "reopened":
        t = tables.closings
        conn.execute(update(t).where(
            t.c.map == mark.map, t.c.province == mark.province, t.c.period == mark.period,
            t.c.closing == mark.closing, t.c.reopened_seq.is_(None)).values(
            reopened_seq=mark.seq, reopened_at=mark.at, reopened_by=mark.by,
            reopen_reason=mark.reason))
        if opened.get(key) == mark.closing:
            del opened[key]
    else:
        t = tables.control_totals
        conn.execute(delete(t).where(
            t.c.map == mark.map, t.c.province == mark.province, t.c.period == mark.period,
            t.c.closing == mark.closing, t.c.campaign == mark.campaign))
        conn.execute(t.insert().values(
            map=mark.map, province=mark.province, period=mark.period, closing=mark.closing,
            campaign=mark.campaign, seq=mark.seq, submitted_at=mark.at, submitted_by=mark.by,
            **(mark.measures or {})))


def _freeze(conn: Connection, tables: GenerationTables, mark: PeriodMark, day: Any) -> None:
    """Copy the figures of the province and below for the period, as they stand now."""
    a = tables.activities
    first, last = period_range(mark.period)
    rows = conn.execute(
        select(a.c.path, a.c.campaign, *(func.sum(a.c[c]) for c in _CODES))
        .where(and_(a.c.map == mark.map, a.c.province == mark.province,
                    a.c.day.between(day(first), day(last)), a.c.retracted == false()))
        .group_by(a.c.path, a.c.campaign))
    figures = frozen_figures(rows)
    if figures:
        conn.execute(tables.closing_totals.insert(), [
            {"map": mark.map, "province": mark.province, "period": mark.period,
             "closing": mark.closing, "locality": locality, "campaign": campaign,
             **dict(zip(_CODES, amounts, strict=True))}
            for (locality, campaign), amounts in sorted(figures.items())])


def note_late(conn: Connection, tables: GenerationTables, plan: Plan,
              opened: OpenClosings) -> int:
    rows = late_rows(plan, opened)
    if rows:
        conn.execute(tables.late_amendments.insert(), rows)
    return len(rows)

