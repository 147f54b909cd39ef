"""`cungdan run` (= `make run`) as a user runs it: authentication on for ingest, one demo
token per demo province and a national admin token printed, the demo loaded with the
national token, reads public, the broker locked down (a client without credentials is
refused; its passwords are kept in the data directory and never printed), Ctrl-C stops
everything. Each test runs against `cungdan run` and against `cungdan run --cluster` (three
nats-servers, the stream in three replicas)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from tests.factories import report_v2 as report
from tests.kits.run import cungdan_run

from cungdan.demo import demo_reports
from cungdan.processes import free_port

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    output: list[str]
    tokens: dict[str, str]
    ingest: str
    projector: str
    data_dir: Path
    demo_totals: httpx.Response
    """Mù Cang Chải's totals of the demo's campaign, read without a token as soon as `cungdan
    run` was ready (before any test posted there)."""
    nats_ports: list[int]
    """The client port of each nats-server."""
    nats_http_ports: list[int]

    @property
    def cluster(self) -> bool:
        return len(self.nats_ports) > 1

    @property
    def stack_dir(self) -> Path:
        """Where the stream, read model and logs are (a cluster's apart from one node's)."""
        return self.data_dir / "cluster" if self.cluster else self.data_dir

    def passwords(self) -> dict[str, str]:
        document = json.loads((self.data_dir / "nats-credentials.json").read_text())
        return {str(k): str(v) for k, v in document["passwords"].items()}


@pytest.fixture(scope="module", params=["one-node", "cluster"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    cluster = request.param == "cluster"
    data = tmp_path_factory.mktemp("run") / "var"
    nodes = {kind: [free_port() for _ in range(3)] for kind in ("", "_HTTP", "_ROUTE")}
    env = {f"CUNGDAN_NATS_CLUSTER{kind}_PORTS": ",".join(map(str, listed))
           for kind, listed in nodes.items()}
    with cungdan_run(data, ["run", "--cluster"] if cluster else ["run"], env) as running:
        projector = running.url("PROJECTOR")
        demo_totals = httpx.get(f"{projector}/v1/totals/137", params={
            "map": "legacy", "campaign": "ngay-cuoi-tuan-cung-dan"}, trust_env=False)
        yield Run(running.output, running.tokens(), running.url("INGEST"), projector, data,
                  demo_totals, nodes[""] if cluster else [running.ports["NATS"]],
                  nodes["_HTTP"] if cluster else [running.ports["NATS_HTTP"]])


def test_it_prints_a_token_per_demo_province_and_a_national_one(run: Run) -> None:
    assert set(run.tokens) == {"demo-15", "demo-19", "demo-38", "demo-national"}
    assert all(t.startswith("cdn_") for t in run.tokens.values())
    stored = (run.data_dir / "tokens.json").read_text()
    assert {t["name"] for t in json.loads(stored)["tokens"]} == set(run.tokens)
    assert not any(secret in stored for secret in run.tokens.values())
    logs = "".join(p.read_text() for p in (run.stack_dir / "logs").glob("*.log"))
    assert not any(secret in logs for secret in run.tokens.values())


def test_the_demo_is_loaded_with_the_national_token_and_reads_are_public(run: Run) -> None:
    loaded = next(line for line in run.output if line.startswith("demo data:"))
    assert loaded == f"demo data: {len(demo_reports())} accepted, 0 already there, 0 rejected"
    assert run.demo_totals.status_code == 200, run.demo_totals.text  # no token: public
    assert run.demo_totals.json()["totals"]["road_km"] == "150"


def test_ingest_requires_a_token_within_its_provinces(run: Run) -> None:
    def post(token: str | None, locality: str) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = report(id=str(uuid.uuid4()), locality=locality, date="2023-05-06")
        return httpx.post(f"{run.ingest}/v1/activities", json=body, headers=headers,
                          trust_env=False).status_code

    yen_bai, bac_kan = "04495", "01894"  # legacy 15 -> Lào Cai 15; legacy 06 -> Thái Nguyên 19
    assert post(None, yen_bai) == 401
    assert post(run.tokens["demo-15"], yen_bai) == 202
    assert post(run.tokens["demo-15"], bac_kan) == 403
    assert post(run.tokens["demo-19"], bac_kan) == 202
    assert post(run.tokens["demo-38"], yen_bai) == 403
    assert post(run.tokens["demo-national"], bac_kan) == 202


def test_the_broker_refuses_a_client_without_credentials(run: Run) -> None:
    async def refused(url: str) -> str:
        with pytest.raises(nats.errors.Error, match="Authorization Violation") as caught:
            await nats.connect(url, allow_reconnect=False, connect_timeout=2)
        return str(caught.value)

    async def check() -> None:
        for port in run.nats_ports:
            await refused(f"nats://127.0.0.1:{port}")
            await refused(f"nats://reader:wrong@127.0.0.1:{port}")
        reader = await nats.connect(  # the reader user of deploy/nats, for a control
            f"nats://reader:{run.passwords()['reader']}@127.0.0.1:{run.nats_ports[-1]}",
            inbox_prefix="_INBOX.reader", allow_reconnect=False, connect_timeout=2)
        try:
            info = await reader.jetstream().stream_info("CUNGDAN_ACTIVITY")
            assert info.state.messages >= len(demo_reports())
            assert info.config.num_replicas == (3 if run.cluster else 1)
        finally:
            await reader.close()

    asyncio.run(check())


def test_broker_passwords_stay_in_the_data_directory(run: Run) -> None:
    passwords = run.passwords()
    assert set(passwords) == {"ingest", "projector", "reader", "route"}
    assert all(p.startswith("pw") and len(p) > 40 for p in passwords.values())
    private = [run.data_dir / "nats-credentials.json", *run.stack_dir.glob("nats*.conf")]
    assert len(private) == 1 + len(run.nats_ports), private
    for path in private:
        assert path.stat().st_mode & 0o777 == 0o600, path
    logs = list((run.stack_dir / "logs").glob("*.log"))
    assert len(logs) >= 2 + len(run.nats_ports), logs
    written = "\n".join(run.output) + "".join(p.read_text() for p in logs)
    leaked = [user for user, password in passwords.items() if password in written]
    assert not leaked, f"passwords of {leaked} printed or logged"


def test_the_stream_has_a_copy_on_every_node(run: Run) -> None:
    for port in run.nats_http_ports:
        jsz = httpx.get(f"http://127.0.0.1:{port}/jsz?streams=true", trust_env=False).json()
        streams = {s["name"]: s for a in jsz["account_details"] for s in a["stream_detail"]}
        assert streams["CUNGDAN_ACTIVITY"]["state"]["messages"] >= len(demo_reports())
