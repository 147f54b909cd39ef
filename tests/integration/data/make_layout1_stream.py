"""Writes ``layout1_stream.json``: a stream as ingest wrote it before subject layout 2.

Run once, with the code of commit 48477f1 (the last that wrote layout 1) first on the path,
so that its own ingest service makes the stream over HTTP::

    mkdir /tmp/c48 && git archive 48477f1 | tar -x -C /tmp/c48
    PYTHONPATH=/tmp/c48/src:/tmp/c48/contracts/src:/tmp/c48/services/ingest/src:\\
    /tmp/c48/services/common/src .venv/bin/python tests/integration/data/make_layout1_stream.py

The file holds every stored message as that ingest stored it (subject, headers, payload),
and each request it answered (body and answer): ``tests/integration/test_layout_upgrade.py``
replays the messages into a fresh server and sends the requests again to today's ingest.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
from prometheus_client import CollectorRegistry

from cungdan.processes import NatsServer
from cungdan_ingest.app import create_app
from cungdan_ingest.settings import IngestSettings

OUT = Path(__file__).with_name("layout1_stream.json")
ADDED_BY_GET = {"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp",
                "Nats-Last-Sequence", "Nats-Num-Pending"}


def _report(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=0x1A70_0000_0000_4000_8000_0000_0000_0000 + n)),
            "campaign": "ngay-cuoi-tuan-cung-dan", "locality": "04495",
            "date": "2023-05-06", "unit": "Ban CHQS huyện",
            "measures": {"road_km": "1.5", "citizen_turns": 120}, **fields}


def _requests() -> list[tuple[str, Any]]:
    v2 = {**_report(2), "version": 2, "locality": "04492", "date": "2025-08-01",
          "unit": {"name": "Chi đoàn xã", "kind": "youth_union"}, "village": "Bản Ngõa"}
    batch = [_report(3, campaign="dan-van-kheo", measures={"models_registered": 2}),
             _report(4, locality="01894", date="2023-03-04"),
             _report(5, locality="14836", date="2023-04-20", measures={"flower_pots": 310})]
    first = _report(1)["id"]
    return [
        ("/v1/activities", _report(1)),
        ("/v1/activities", v2),
        ("/v1/activities/batch", batch),
        ("/v1/activities", v2),  # a duplicate: stored once
        (f"/v1/activities/{first}/corrections",
         {"id": "c0000000-0000-4000-8000-000000000001", "measures": {"road_km": "2"},
          "reason": "đo lại"}),
        (f"/v1/activities/{first}/corrections",
         {"id": "c0000000-0000-4000-8000-000000000002", "measures": {"road_km": "2.5"},
          "reason": "đo lại lần hai"}),
        (f"/v1/activities/{batch[0]['id']}/retraction", {"reason": "báo trùng"}),
    ]


async def main(commit: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as server:
        settings = IngestSettings(nats_url=server.url)
        app = create_app(settings, registry=CollectorRegistry())
        answered = []
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            for path, body in _requests():
                response = await client.post(path, json=body)
                answered.append({"path": path, "body": body, "status": response.status_code,
                                 "answer": response.json()})
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        last = (await js.stream_info("CUNGDAN_ACTIVITY")).state.last_seq
        messages = []
        for seq in range(1, last + 1):
            msg = await js.get_msg("CUNGDAN_ACTIVITY", seq, direct=True)
            messages.append({"seq": seq, "subject": msg.subject, "headers": {
                k: v for k, v in (msg.headers or {}).items() if k not in ADDED_BY_GET},
                "payload": (msg.data or b"").decode()})
        await nc.close()
    OUT.write_text(json.dumps({
        "written_by": f"ingest of commit 48477f1 (run from {commit or 'an archive'})",
        "messages": messages, "requests": answered}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8")
    print(OUT, len(messages), "messages", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, check=False).stdout.strip()))
