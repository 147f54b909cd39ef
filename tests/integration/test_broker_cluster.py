"""The three-node broker of `cungdan run --cluster` on real nats-servers: it forms one
JetStream cluster, its routes take only each other, and a service's connection moves to a
surviving node when the one it uses dies (cungdan_service.nats.connect_broker)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from tests.kits.cluster import wait_leader

from cungdan.broker import Broker, NodePorts
from cungdan.nats_credentials import ROUTE_USER, generate
from cungdan.processes import LOCALHOST, NatsServer, free_port, pid_alive
from cungdan_contracts.subjects import STREAM, STREAM_SUBJECTS
from cungdan_ingest.journal import stream_config
from cungdan_service.nats import connect_broker

pytestmark = pytest.mark.integration


def _nodes() -> tuple[NodePorts, ...]:
    return tuple(NodePorts(free_port(), free_port(), free_port()) for _ in range(3))


def _routez(node: NatsServer) -> set[str]:
    """The names of the servers ``node`` has routes to."""
    routez = httpx.get(f"{node.monitor_url}/routez", timeout=2, trust_env=False).json()
    return {r.get("remote_name") or r.get("remote_id") for r in routez.get("routes") or []}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(tmp_path, tmp_path / "logs", _nodes(), generate()) as running:
        yield running


def test_three_nodes_form_one_cluster_and_stop_without_leftovers(broker: Broker) -> None:
    for node in broker.nodes:
        assert _routez(node) == {n.name for n in broker.nodes if n is not node}
        jsz = httpx.get(f"{node.monitor_url}/jsz", timeout=2, trust_env=False).json()
        assert jsz["meta_cluster"]["cluster_size"] == 3, jsz["meta_cluster"]
    pids = [node.pid for node in broker.nodes]
    broker.stop()
    assert not any(pid is not None and pid_alive(pid) for pid in pids)


def test_a_server_without_the_route_password_does_not_join(broker: Broker,
                                                          tmp_path: Path) -> None:
    first = broker.nodes[0]
    port = broker.ports[0].route
    intruder_config = tmp_path / "intruder.conf"
    intruder_config.write_text(
        'server_name: "intruder"\n'
        f'cluster {{ name: "cungdan", listen: "{LOCALHOST}:{free_port()}", '
        f'routes: ["nats-route://{ROUTE_USER}:wrong@{LOCALHOST}:{port}"] }}\n')
    with NatsServer(tmp_path / "intruder", log_dir=tmp_path, config_file=intruder_config,
                    name="intruder") as intruder:
        deadline = time.monotonic() + 10
        while "Authorization Violation" not in intruder.log_file.read_text():
            assert time.monotonic() < deadline, intruder.log_file.read_text()
            time.sleep(0.1)
        assert "intruder" not in _routez(first)
        assert not _routez(intruder)


async def test_a_service_connection_moves_to_a_surviving_node(broker: Broker) -> None:
    connection = await connect_broker(broker.client_url("ingest"), 10)
    nc = connection.connection
    try:
        js = nc.jetstream()
        await js.add_stream(stream_config(STREAM, STREAM_SUBJECTS, 120.0, 3))
        subject = f"cungdan.activity.v1.logged.legacy.15.dan-van-kheo.{uuid.uuid4()}"
        assert (await js.publish(subject, b"{}", timeout=5)).seq == 1
        used = next(n for n in broker.nodes if nc.connected_url is not None
                    and nc.connected_url.port == n.port)
        used.kill()
        deadline = time.monotonic() + 15
        while not nc.is_connected or nc.connected_url is None or nc.connected_url.port == used.port:
            assert time.monotonic() < deadline, "not reconnected to a surviving node"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(wait_leader, broker, STREAM, timeout=30)
        # As ingest does, a publish refused meanwhile (the new leader's interest not yet
        # known to this node, an election) is sent again; its id makes that safe.
        event_id = str(uuid.uuid4())
        subject = f"cungdan.activity.v1.logged.legacy.15.dan-van-kheo.{event_id}"
        refused: list[str] = []
        while True:
            try:
                ack = await js.publish(subject, b"{}", timeout=2,
                                       headers={"Nats-Msg-Id": event_id})
                break
            except (nats.errors.Error, TimeoutError) as exc:
                refused.append(repr(exc))
                assert time.monotonic() < deadline + 30, refused
                await asyncio.sleep(0.2)
        assert ack.seq == 2, (ack, refused)
    finally:
        await connection.stop()
