"""Builders for tests: valid reports and events (override any field; ``field=...`` leaves a
field out), and the configuration of a whole stack on free ports."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from cungdan.broker import NodePorts
from cungdan.processes import free_port
from cungdan.stack import StackConfig
from cungdan_contracts import (
    ActivityLogged,
    AdminMap,
    load_gazetteer,
    map_for_date,
    report_from_json,
)


def report(**overrides: Any) -> dict[str, Any]:
    """A valid v1 report in the ingest API's JSON shape (a commune of Mù Cang Chải, 2023)."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "campaign": "ngay-cuoi-tuan-cung-dan",
        "locality": "04495",
        "date": "2023-05-06",
        "unit": "Ban CHQS huyện",
        "measures": {"road_km": "1.5", "citizen_turns": 120},
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def report_v2(**overrides: Any) -> dict[str, Any]:
    """A valid v2 report: structured unit, village."""
    return report(**{"version": 2, "village": "Khuổi Tẩu",
                     "unit": {"name": "Chi bộ thôn Khuổi Tẩu", "kind": "party_cell"},
                     **overrides})


def event(**overrides: Any) -> ActivityLogged:
    """The (current, v2) event ingest would publish for :func:`report` with these overrides."""
    activity = report_from_json(report(**overrides))
    admin_map: AdminMap = map_for_date(activity.date)
    return ActivityLogged(
        recorded_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        source_province=load_gazetteer().province_of(admin_map, activity.locality),
        map=admin_map,
        activity=activity,
    )


def stack_config(data_dir: Path, *, cluster: bool = False, **options: Any) -> StackConfig:
    """nats-server, ingest and projector storing in ``data_dir``, each on a free port;
    ``options`` as :class:`StackConfig`'s (``extra_env``, ``tokens_file``, ``database_url``).
    ``cluster``: a JetStream cluster of three nodes instead of one nats-server."""
    nodes = tuple(NodePorts(free_port(), free_port(), free_port())
                  for _ in range(3 if cluster else 0))
    return StackConfig(data_dir=data_dir, nats_port=free_port(), nats_http_port=free_port(),
                       ingest_port=free_port(), projector_port=free_port(), cluster=nodes,
                       **options)
