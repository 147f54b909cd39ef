"""`cungdan run` (= `make run`) as a user runs it: authentication on for ingest, one demo
token per demo province and a national admin token printed, the demo loaded with the
national token, reads public, Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.factories import report_v2 as report

from cungdan.demo import demo_reports
from cungdan.processes import free_port

pytestmark = pytest.mark.e2e

READY = "Ctrl-C stops everything."


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


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line.rstrip("\n"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data = tmp_path_factory.mktemp("run") / "var"
    ports = {name: free_port() for name in ("NATS", "NATS_HTTP", "INGEST", "PROJECTOR")}
    env = {**os.environ, "CUNGDAN_DATA_DIR": str(data),
           **{f"CUNGDAN_{name}_PORT": str(port) for name, port in ports.items()}}
    env.pop("CUNGDAN_TOKENS_FILE", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from cungdan.cli import main; sys.exit(main(['run']))"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while READY not in output:
            assert proc.poll() is None, "\n".join(output)
            try:
                output.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail("cungdan run did not get ready:\n" + "\n".join(output))
        tokens = {m.group(1): output[i + 1].strip() for i, line in enumerate(output)
                  if (m := re.match(r"^  (demo-\S+) ", line))}
        projector = f"http://127.0.0.1:{ports['PROJECTOR']}"
        demo_totals = httpx.get(f"{projector}/v1/totals/137", params={
            "map": "legacy", "campaign": "ngay-cuoi-tuan-cung-dan"}, trust_env=False)
        yield Run(output, tokens, f"http://127.0.0.1:{ports['INGEST']}", projector, data,
                  demo_totals)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            code = proc.wait(timeout=30)
    assert code == 0


def test_it_prints_a_token_per_demo_province_and_a_national_one(run: Run) -> None:
    assert set(run.tokens) == {"demo-15", "demo-19", "demo-38", "demo-national"}
    assert all(t.startswith("cdn_") for t in run.tokens.values())
    stored = (run.data_dir / "tokens.json").read_text()
    assert {t["name"] for t in json.loads(stored)["tokens"]} == set(run.tokens)
    assert not any(secret in stored for secret in run.tokens.values())
    logs = "".join(p.read_text() for p in (run.data_dir / "logs").glob("*.log"))
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
