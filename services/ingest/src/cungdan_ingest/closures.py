"""Which periods are closed, per (map, province): what ingest learns from the stream. Pure.

Ingest refuses a report, correction or retraction dated in a period closed for its
province. It knows the closings from the period events of the stream itself (no second
database): :mod:`.closures_feed` reads them at start and follows them, and applies each
here in stream order. The index lags the stream by the time an event takes to come back:
a report accepted meanwhile is after the close in the stream, so the projector counts it
as a late amendment, never inside the closed figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cungdan_contracts import AdminMap
from cungdan_contracts.periods import PeriodClosed, PeriodEvent, PeriodReopened, periods_of


@dataclass(frozen=True, slots=True)
class Closing:
    """A period as last closed."""

    period: str
    closing: int
    seq: int
    closed_at: dt.datetime
    closed_by: str | None
    reason: str

    @classmethod
    def of(cls, seq: int, event: PeriodClosed) -> Closing:
        """The closing ``event``, stored at stream sequence ``seq``."""
        return cls(event.period, event.closing, seq, event.recorded_at, event.by, event.reason)

    def describe(self) -> str:
        by = self.closed_by or "(authentication off)"
        return (f"period {self.period} was closed (closing {self.closing}, stream sequence "
                f"{self.seq}) at {self.closed_at.isoformat()} by {by}")

    def refusal(self, day: dt.date, province: str) -> str:
        """Why a report or change dated ``day`` for ``province`` is refused."""
        return f"{day}: {self.describe()} for province {province}"

    def as_json(self) -> dict[str, object]:
        return {"period": self.period, "closing": self.closing, "seq": self.seq,
                "closed_at": self.closed_at.isoformat(), "closed_by": self.closed_by,
                "reason": self.reason}


class Closures:
    """The closed periods, from the period events applied in stream order."""

    def __init__(self) -> None:
        self._closed: dict[tuple[str, str, str], Closing] = {}
        self.position = 0
        """The stream sequence of the last period event applied."""

    def apply(self, seq: int, event: PeriodEvent) -> None:
        """Apply one period event (events at or below ``position`` are ignored)."""
        if seq <= self.position:
            return
        self.position = seq
        key = (event.map.value, event.province, event.period)
        if isinstance(event, PeriodClosed):
            self._closed[key] = Closing.of(seq, event)
        elif isinstance(event, PeriodReopened):
            current = self._closed.get(key)
            if current is not None and current.closing == event.closing:
                del self._closed[key]

    def closed(self, admin_map: AdminMap, province: str, day: dt.date) -> Closing | None:
        """The closing that covers ``day`` for the province, if any (the year, then the
        quarter, then the month)."""
        if not self._closed:
            return None
        for period in periods_of(day):
            found = self._closed.get((admin_map.value, province, period))
            if found is not None:
                return found
        return None

    def __len__(self) -> int:
        return len(self._closed)
