"""Operator commands that talk to a running projector: status, dead letters, rebuild."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import httpx

from .addresses import ServiceAddresses
from .client import bearer
from .command_errors import check


def add_commands(commands: Any) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--projector", default=None,
                            help="projector base URL (default: CUNGDAN_PROJECTOR_URL, else "
                                 "http://CUNGDAN_PROJECTOR_HOST:CUNGDAN_PROJECTOR_PORT)")
        parser.add_argument("--token", default=os.environ.get("CUNGDAN_TOKEN"),
                            help="API token (default: CUNGDAN_TOKEN); admin role to act")

    status = commands.add_parser("status", help="stream, lag, dead letters, freshness")
    common(status)
    letters = commands.add_parser("deadletters", help="list or re-drive dead letters")
    letter_cmds = letters.add_subparsers(dest="deadletters_command", required=True)
    common(letter_cmds.add_parser("list", help="list dead letters"))
    redrive = letter_cmds.add_parser("redrive", help="apply dead letters again (once each)")
    common(redrive)
    redrive.add_argument("--seq", type=int, help="only this stream sequence")
    rebuild = commands.add_parser("rebuild", help="rebuild the read model from the stream")
    common(rebuild)
    rebuild.add_argument("--no-wait", action="store_true", help="start it and return")


def _client(args: argparse.Namespace) -> httpx.Client:
    return httpx.Client(base_url=args.projector or ServiceAddresses().projector,
                        headers=bearer(args.token), timeout=30, trust_env=False)


def run_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.command == "status":
            print(render_status(_get(client, "/v1/status")))
            return 0
        if args.command == "deadletters":
            if args.deadletters_command == "list":
                print(render_deadletters(_get(client, "/v1/deadletters")["dead_letters"]))
                return 0
            params = {"seq": args.seq} if args.seq is not None else {}
            response = client.post("/v1/deadletters/redrive", params=params)
            check(response, "projector")
            for result in response.json()["results"]:
                print(f"seq {result['seq']:>10}  {result['status']}  {result.get('reason', '')}")
            return 0
        return _rebuild(client, wait=not args.no_wait)


def _get(client: httpx.Client, path: str) -> dict[str, Any]:
    response = client.get(path)
    check(response, "projector")
    body: dict[str, Any] = response.json()
    return body


def _rebuild(client: httpx.Client, *, wait: bool) -> int:
    started = client.post("/v1/rebuild")
    if started.status_code == 409:
        print("a rebuild is already running; following it")
    else:
        check(started, "projector")
    while wait:
        status = _get(client, "/v1/rebuild")
        print("\r" + render_progress(status), end="", file=sys.stdout, flush=True)
        if status["state"] == "done":
            print()
            return 0
        time.sleep(0.5)
    return 0


def render_progress(status: dict[str, Any], width: int = 30) -> str:
    percent = float(status.get("percent") or 0.0)
    filled = int(width * percent / 100)
    rate = status.get("events_per_second")
    return (f"rebuild g{status.get('generation')} [{'#' * filled}{'.' * (width - filled)}] "
            f"{percent:5.1f}%  {status.get('position', 0):,}/{status.get('target', 0):,} "
            f"events  {f'{rate:,.0f}/s' if rate else ''}  {status['state']}")


def render_status(status: dict[str, Any]) -> str:
    stream = status.get("stream") or {}
    lines = [
        "stream CUNGDAN_ACTIVITY",
        f"  messages     {stream.get('messages', '?'):>14,}" if stream else "  (unreachable)",
        f"  bytes        {stream.get('bytes', 0):>14,}" if stream else "",
        f"  last seq     {stream.get('last_seq', 0):>14,}" if stream else "",
        "projector",
        f"  position     {status['position']:>14,}   (generation {status['generation']})",
        f"  lag          {status['lag'] if status['lag'] is not None else '?':>14}",
        f"  dead letters {status['dead_letters_pending']:>14}   pending",
        f"  rebuild      {status['rebuild']['state']:>14}",
        "freshness (last event counted, by province)",
        f"  {'map':<7}{'province':<10}{'name':<28}{'last event (UTC)':<22}{'days silent':>11}",
    ]
    for row in sorted(status["freshness"], key=lambda f: -f["days_silent"]):
        lines.append(f"  {row['map']:<7}{row['province']:<10}{row['name'][:27]:<28}"
                     f"{row['last_event_at'][:19]:<22}{row['days_silent']:>11}")
    return "\n".join(line for line in lines if line)


def render_deadletters(letters: list[dict[str, Any]]) -> str:
    if not letters:
        return "no dead letters"
    rows = [f"{'gen':<4}{'seq':>10}  {'dead-lettered at':<20}  {'re-driven':<10}  reason"]
    for d in letters:
        rows.append(f"{d['generation']:<4}{d['seq']:>10}  {d['dead_lettered_at'][:19]:<20}  "
                    f"{'yes' if d['redriven_at'] else 'no':<10}  {d['reason']}")
    return "\n".join(rows)
