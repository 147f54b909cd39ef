"""The read side of closings: frozen figures, periods, control totals, late amendments.

Each read takes the active generation and its position in one snapshot, as the totals
do (:mod:`.reads`). A generation made before closings existed (projection version below
:data:`.schema.CLOSINGS_VERSION`, serving while its rebuild runs) has none of these
tables: :class:`NoClosingsError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from cungdan_contracts import INDICATORS

from .reads import active_snapshot, aware
from .schema import GenerationTables, keeps_closings

_CODES = tuple(INDICATORS)


class NoClosingsError(LookupError):
    """The active generation predates closings (it is being rebuilt)."""


@dataclass(frozen=True, slots=True)
class ClosingRecord:
    period: str
    closing: int
    seq: int
    closed_at: dt.datetime
    closed_by: str | None
    reason: str
    reopened_seq: int | None = None
    reopened_at: dt.datetime | None = None
    reopened_by: str | None = None
    reopen_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "closing": self.closing, "seq": self.seq, "closed_at": self.closed_at.isoformat(),
            "closed_by": self.closed_by, "reason": self.reason, "reopened": None}
        if self.reopened_seq is not None:
            assert self.reopened_at is not None
            body["reopened"] = {"seq": self.reopened_seq,
                                "at": self.reopened_at.isoformat(),
                                "by": self.reopened_by, "reason": self.reopen_reason}
        return body


@dataclass(frozen=True, slots=True)
class ControlRecord:
    campaign: str
    closing: int
    seq: int
    submitted_at: dt.datetime
    submitted_by: str | None
    amounts: list[int]


@dataclass(slots=True)
class PeriodView:
    """What the read model knows of one province's period."""

    closings: list[ClosingRecord] = field(default_factory=list)
    late_amendments: int = 0
    controls: list[ControlRecord] = field(default_factory=list)
    late: list[dict[str, Any]] = field(default_factory=list)
    """The late amendments themselves (read for one period only)."""

    @property
    def last(self) -> ClosingRecord | None:
        """The period's last closing (None: never closed)."""
        return self.closings[-1] if self.closings else None

    @property
    def closed(self) -> bool:
        """Whether the period is closed now: its last closing was not reopened."""
        last = self.last
        return last is not None and last.reopened_seq is None


@contextmanager
def _snapshot(engine: Engine) -> Iterator[tuple[Connection, int, GenerationTables]]:
    with active_snapshot(engine) as found:
        if found is None:
            raise NoClosingsError("no active generation")
        if not keeps_closings(found.version):
            raise NoClosingsError(f"the active generation ({found.tables.closings.name}) "
                                  f"predates closings (version {found.version})")
        yield found.conn, found.position, found.tables


def _closing(r: Any) -> ClosingRecord:
    return ClosingRecord(r.period, int(r.closing), int(r.seq), aware(r.closed_at), r.closed_by,
                         r.reason, r.reopened_seq, aware(r.reopened_at), r.reopened_by,
                         r.reopen_reason)


def periods(engine: Engine, admin_map: str, province: str,
            period: str | None = None) -> tuple[int, dict[str, PeriodView]]:
    """Every period of the province with closings (or late amendments), or just ``period``."""
    found: dict[str, PeriodView] = {}
    with _snapshot(engine) as (conn, position, t):
        c = t.closings
        query = select(c).where(c.c.map == admin_map, c.c.province == province)
        if period is not None:
            query = query.where(c.c.period == period)
        for r in conn.execute(query.order_by(c.c.period, c.c.closing)):
            found.setdefault(r.period, PeriodView()).closings.append(_closing(r))
        la = t.late_amendments
        if period is None:  # every period: how many each
            counted = select(la.c.period, func.count()).where(
                la.c.map == admin_map, la.c.province == province).group_by(la.c.period)
            for name, count in conn.execute(counted):
                found.setdefault(name, PeriodView()).late_amendments = int(count)
        else:  # one period: the amendments themselves, and so their count
            rows = conn.execute(select(la.c.seq, la.c.closing, la.c.activity_id, la.c.kind)
                                .where(la.c.map == admin_map, la.c.province == province,
                                       la.c.period == period).order_by(la.c.seq))
            late_rows = [{"seq": int(r.seq), "closing": int(r.closing),
                          "activity_id": r.activity_id, "kind": r.kind} for r in rows]
            if late_rows:
                view = found.setdefault(period, PeriodView())
                view.late, view.late_amendments = late_rows, len(late_rows)
        ct = t.control_totals
        controls = select(ct).where(ct.c.map == admin_map, ct.c.province == province)
        if period is not None:
            controls = controls.where(ct.c.period == period)
        for r in conn.execute(controls.order_by(ct.c.period, ct.c.closing, ct.c.campaign)):
            found.setdefault(r.period, PeriodView()).controls.append(ControlRecord(
                r.campaign, int(r.closing), int(r.seq), aware(r.submitted_at), r.submitted_by,
                [int(r._mapping[code]) for code in _CODES]))
    return position, found


def closed_figures(engine: Engine, admin_map: str, province: str, period: str,
                   closing: int | None, localities: Collection[str],
                   campaign: str | None) -> tuple[int, ClosingRecord | None,
                                                  dict[str, list[int]]]:
    """The figures of ``localities`` as closing ``closing`` (default: the last) froze them:
    (position, the closing, amounts in catalog order per locality with any)."""
    sums: dict[str, list[int]] = {}
    with _snapshot(engine) as (conn, position, t):
        c = t.closings
        query = select(c).where(c.c.map == admin_map, c.c.province == province,
                                c.c.period == period)
        query = (query.where(c.c.closing == closing) if closing is not None
                 else query.order_by(c.c.closing.desc()).limit(1))
        row = conn.execute(query).first()
        if row is None:
            return position, None, sums
        record = _closing(row)
        ct = t.closing_totals
        figures = select(ct.c.locality, *(func.sum(ct.c[code]) for code in _CODES)).where(
            ct.c.map == admin_map, ct.c.province == province, ct.c.period == period,
            ct.c.closing == record.closing, ct.c.locality.in_(list(localities)))
        if campaign is not None:
            figures = figures.where(ct.c.campaign == campaign)
        for locality, *amounts in conn.execute(figures.group_by(ct.c.locality)):
            sums[locality] = [int(a or 0) for a in amounts]
    return position, record, sums


def late_amendments(engine: Engine, admin_map: str, province: str, period: str) -> int | None:
    """How many events amended the period after a closing (None: closings not kept yet)."""
    try:
        with _snapshot(engine) as (conn, _, t):
            la = t.late_amendments
            count = conn.execute(select(func.count()).where(
                la.c.map == admin_map, la.c.province == province,
                la.c.period == period)).scalar()
    except NoClosingsError:
        return None
    return int(count or 0)
