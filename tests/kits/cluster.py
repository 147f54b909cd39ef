"""A JetStream cluster seen through its nodes' monitoring endpoints (no credentials needed):
which node leads a stream, what each node holds, whether a node has caught up.

For the fault tests; the product only waits for health (:mod:`cungdan.broker`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from cungdan.broker import Broker, node_problem
from cungdan.processes import NatsServer


@dataclass(frozen=True)
class StreamView:
    """A stream as one node holds it."""

    node: str
    leader: str | None
    """The leader this node knows of (``None`` during an election)."""
    messages: int
    last_seq: int
    replicas: tuple[str, ...]
    """Every node with a copy, the leader included."""


def _get(node: NatsServer, path: str, timeout: float = 2.0) -> Any:
    response = httpx.get(f"{node.monitor_url}{path}", timeout=timeout, trust_env=False)
    response.raise_for_status()
    return response.json()


def stream_view(node: NatsServer, stream: str) -> StreamView | None:
    """``stream`` as ``node`` holds it; ``None`` if it holds none (or is down)."""
    if not node.running:
        return None
    try:
        jsz = _get(node, "/jsz?streams=true")
    except (httpx.HTTPError, ValueError):
        return None
    for account in jsz.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail.get("name") != stream:
                continue
            cluster = detail.get("cluster") or {}
            leader = cluster.get("leader") or None
            others = tuple(r["name"] for r in cluster.get("replicas") or [])
            state = detail.get("state") or {}
            return StreamView(node.name, leader, int(state.get("messages", 0)),
                              int(state.get("last_seq", 0)),
                              tuple(sorted({*others, *([leader] if leader else [])})))
    return None


def running(broker: Broker, exclude: Iterable[NatsServer] = ()) -> list[NatsServer]:
    left_out = {n.name for n in exclude}
    return [n for n in broker.nodes if n.running and n.name not in left_out]


def stream_leader(broker: Broker, stream: str) -> NatsServer | None:
    """The running node that leads ``stream`` and says so; ``None`` while there is none."""
    for node in running(broker):
        view = stream_view(node, stream)
        if view is not None and view.leader == node.name:
            return node
    return None


def wait_leader(broker: Broker, stream: str, *, timeout: float) -> NatsServer:
    deadline = time.monotonic() + timeout
    while (leader := stream_leader(broker, stream)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no node leads {stream} after {timeout}s")
        time.sleep(0.05)
    return leader


def leader_view(broker: Broker, stream: str) -> StreamView | None:
    leader = stream_leader(broker, stream)
    return None if leader is None else stream_view(leader, stream)


def caught_up(broker: Broker, node: NatsServer, stream: str) -> StreamView | None:
    """``node``'s view of ``stream`` once it holds what the leader holds and nats-server's
    /healthz says it is current; else ``None``."""
    leader = leader_view(broker, stream)
    mine = stream_view(node, stream)
    if leader is None or mine is None or mine.last_seq != leader.last_seq:
        return None
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        return mine if node_problem(client, node) is None else None


def wait_caught_up(broker: Broker, node: NatsServer, stream: str, *,
                   timeout: float) -> StreamView:
    deadline = time.monotonic() + timeout
    while (view := caught_up(broker, node, stream)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{node.name} has not caught up with {stream} after {timeout}s: it holds "
                f"{stream_view(node, stream)}, the leader {leader_view(broker, stream)}")
        time.sleep(0.1)
    return view
