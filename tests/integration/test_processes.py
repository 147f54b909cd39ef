"""cungdan.processes against real nats-server, PostgreSQL and HTTP server processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nats
import psycopg
import pytest
from tests.kits.postgres import PostgresCluster
from tests.kits.run import live_group_members

from cungdan.processes import (
    NatsServer,
    ProcessStartError,
    ServiceProcess,
    free_port,
    pid_alive,
)

pytestmark = pytest.mark.integration

# Serves /healthz; starts a child in its process group, as uvicorn does with workers.
HEALTH_SERVER = """
import http.server, os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(os.environ["CHILD_PID_FILE"], "w").write(str(child.pid))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


async def test_nats_server_survives_kill_and_restart(nats_server: NatsServer) -> None:
    first_pid = nats_server.pid
    assert first_pid is not None
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"])  # file storage by default
    ack = await js.publish("orders.created", b"order-1")
    assert ack.seq == 1
    await nc.close()

    nats_server.kill()
    assert nats_server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)

    nats_server.restart()
    assert nats_server.pid not in (None, first_pid)
    nc = await nats.connect(nats_server.url)
    msg = await nc.jetstream().get_msg("ORDERS", 1)
    assert msg.data == b"order-1"
    await nc.close()


def test_nats_server_stop_leaves_no_process(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "store", tmp_path)
    with server:
        pid = server.pid
        assert pid is not None
        assert server.url == f"nats://127.0.0.1:{server.port}"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    server.stop()  # idempotent
    assert "Server is ready" in server.log_file.read_text()


async def test_nats_server_takes_its_config_passwords_from_env(tmp_path: Path) -> None:
    config = tmp_path / "users.conf"
    config.write_text("authorization { user: someone, password: $SOME_PASSWORD }\n")
    with NatsServer(tmp_path / "store", tmp_path, config_file=config, name="locked",
                    env={"SOME_PASSWORD": "pwsecret"}) as server:
        assert server.log_file == tmp_path / "locked.log"
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(server.url, allow_reconnect=False, connect_timeout=2)
        nc = await nats.connect(f"nats://someone:pwsecret@127.0.0.1:{server.port}",
                                allow_reconnect=False, connect_timeout=2)
        await nc.close()
    assert "SOME_PASSWORD" not in os.environ


def test_postgres_cluster_keeps_data_across_stop_and_kill() -> None:
    if not PostgresCluster.available():
        pytest.skip("PostgreSQL binaries not found")
    with PostgresCluster() as pg:
        assert pg.dsn == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres"
        with psycopg.connect(pg.conninfo, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")
        first_pid = pg.pid
        assert first_pid is not None

        pg.stop()
        assert pg.pid is None
        assert not pid_alive(first_pid)
        pg.stop()  # idempotent
        pg.start()
        with psycopg.connect(pg.conninfo, autocommit=True) as conn:
            assert conn.execute("SELECT id FROM t").fetchall() == [(1,)]
            conn.execute("INSERT INTO t VALUES (2)")

        second_pid = pg.pid
        assert second_pid is not None
        pg.kill()  # crash: committed rows must survive recovery
        assert not pid_alive(second_pid)
        pg.start()
        with psycopg.connect(pg.conninfo) as conn:
            assert conn.execute("SELECT id FROM t ORDER BY id").fetchall() == [(1,), (2,)]
        base_dir = pg.base_dir
    assert not base_dir.exists()


def test_postgres_cluster_fixture(postgres_cluster: PostgresCluster) -> None:
    with psycopg.connect(postgres_cluster.conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_service_process_stops_its_whole_group(tmp_path: Path) -> None:
    port = free_port()
    child_pid_file = tmp_path / "child.pid"
    service = ServiceProcess(
        [sys.executable, "-c", HEALTH_SERVER, str(port)],
        port=port,
        log_file=tmp_path / "service.log",
        env={"CHILD_PID_FILE": str(child_pid_file)},
    )
    with service:
        pid = service.pid
        assert pid is not None
        assert os.getpgid(pid) == pid  # its own process group
        child_pid = int(child_pid_file.read_text())
        assert os.getpgid(child_pid) == pid
    assert service.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not pid_alive(child_pid)
    assert live_group_members(pid) == []
    service.stop()  # idempotent


def test_service_process_start_failure_shows_log(tmp_path: Path) -> None:
    service = ServiceProcess(
        [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        port=free_port(),
        log_file=tmp_path / "service.log",
    )
    with pytest.raises(ProcessStartError, match="boom"):
        service.start()
    assert service.pid is None
