"""One indicator of one locality by month: the chart's figures (a read of the monthly
totals of the active generation).

On the 2025 map the months before the reform come from the legacy map's reports of the
same ground: the nation's, a province's legacy provinces, a commune's legacy communes
merged into it whole (as the dated totals read them, :mod:`.reform`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Engine, select

from .schema import generation_tables, generations
from .sums import sums_by


def monthly(engine: Engine, parts: Sequence[tuple[str, Sequence[str]]], indicator: str,
            campaign: str | None) -> dict[int, int]:
    """``YYYYMM`` -> units of ``indicator`` summed over the parts' (map, localities)."""
    by_month: dict[int, int] = defaultdict(int)
    with engine.connect() as conn:
        row = conn.execute(select(generations.c.generation)
                           .where(generations.c.status == "active")).first()
        if row is None:
            return {}
        table = generation_tables(row.generation).monthly
        conditions = frozenset({"localities", *(["campaign"] if campaign else [])})
        statement = sums_by(table, "month", (indicator,), conditions)
        for admin_map, localities in parts:
            if not localities:
                continue
            for month, amount in conn.execute(statement, {
                    "map": admin_map, "localities": list(localities), "campaign": campaign}):
                by_month[int(month)] += int(amount or 0)
    return dict(sorted(by_month.items()))
