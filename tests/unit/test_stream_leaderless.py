"""Ingest's readiness judged by the stream's info: a replicated stream without a leader
(a quorum of its replicas lost) cannot store, though a lone replica answers its info."""

from __future__ import annotations

from typing import Any

from nats.js.api import StreamInfo

from cungdan_ingest.journal import leaderless


def _info(replicas: int, cluster: dict[str, Any] | None) -> StreamInfo:
    response: dict[str, Any] = {
        "config": {"name": "CUNGDAN_ACTIVITY", "num_replicas": replicas},
        "state": {"messages": 0, "bytes": 0, "first_seq": 0, "last_seq": 0,
                  "consumer_count": 0}}
    if cluster is not None:
        response["cluster"] = cluster
    return StreamInfo.from_response(response)


def test_a_replicated_stream_without_a_leader_is_not_ready() -> None:
    info = _info(3, {"name": "cungdan", "replicas": [{"name": "n2", "current": False}]})
    why = leaderless(info)
    assert why is not None and "no leader" in why and "3 replicas" in why


def test_a_replicated_stream_with_a_leader_is_ready() -> None:
    assert leaderless(_info(3, {"name": "cungdan", "leader": "n1"})) is None


def test_a_single_replica_stream_is_ready_without_cluster_info() -> None:
    assert leaderless(_info(1, None)) is None
    assert leaderless(_info(1, {"leader": "n1"})) is None
