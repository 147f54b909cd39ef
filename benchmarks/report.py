"""The table, for the terminal and for ``docs/benchmarks.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .figures import Row

KEEP_MARKER = ("<!-- Everything below this line is written by hand and kept when "
               "`make bench` rewrites the file. -->")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(rows: Sequence[Row], info: Sequence[Row]) -> str:
    lines = ["| figure | measured | same-run baseline | ratio | target | pass/miss |",
             "|---|---|---|---|---|---|"]
    for row in [*rows, *info]:
        verdict = "info" if row in info else row.verdict
        label = f"{row.figure} (`{row.key}`)"
        lines.append("| " + " | ".join(_cell(c) for c in (
            label, row.measured, row.baseline, row.ratio, row.target, verdict)) + " |")
    return "\n".join(lines)


def notes(rows: Sequence[Row], info: Sequence[Row]) -> str:
    out = []
    for row in [*rows, *info]:
        if row.notes:
            out.append(f"- **{row.key}**: " + " ".join(
                n if n.endswith(".") else f"{n}." for n in row.notes))
    return "\n".join(out)


def markdown(*, rows: Sequence[Row], info: Sequence[Row], machine: dict[str, str],
             versions: dict[str, str], command: str, when: str, quick: bool,
             seconds: float, code: str, warnings: Sequence[str] = ()) -> str:
    facts = " · ".join(f"{k}: {v}" for k, v in machine.items())
    soft = " · ".join(f"{k} {v}" for k, v in versions.items())
    sizes = " (quick sizes: no judgement)" if quick else ""
    return f"""# Benchmarks

Measured by `{command}` on {when}, in {seconds / 60:.1f} min{sizes}; code: {code}.
Every figure runs the real processes (nats-server, `python -m cungdan_ingest`,
`python -m cungdan_projector`, PostgreSQL) on fresh state, beside a baseline measured in the
same run on the same machine: these machines are noisy, so compare ratios, not absolutes.

**Machine**: {facts}

**Versions**: {soft}
{"".join(f"{chr(10)}**Warning**: {w}{chr(10)}" for w in warnings)}
{table(rows, info)}

## Notes

{notes(rows, info)}

## Method

- Reports come from `tests.kits.loadgen` (random communes across all provinces of both maps,
  1-5 measures, the campaign mix). The bench builds the events ingest would append for
  them and checks, on every run, that its bytes, subjects and headers equal ingest's own
  `validate_report` + `to_outgoing`.
- HTTP load comes from a lean keep-alive HTTP/1.1 client on asyncio (a few tens of µs of
  client CPU per request, reported beside each figure), requests encoded before the clock
  starts. Open-loop latencies are timed from each request's scheduled start.
- Ingest baselines: the same subjects and payloads published with nats-py's plain
  `publish_async`, without any header (no id check, no `Nats-Msg-Id`: the physical limit),
  into a fresh stream of the same config (`ingest-batch`); and the same events with the
  journal's headers and its own pipelining (one reply inbox, up to
  `CUNGDAN_MAX_IN_FLIGHT` unacknowledged: `ingest-batch-headers`). They and ingest run
  three times in turns (plain, journal-style, ingest; ...), each on a fresh server; a row
  gives the median run over the median baseline, and every sample in its notes.
- At scale: ingest's batch endpoint and its single-report POST (open loop) on the stream
  of the projector figures (the big stream, as ingest would have stored it) against the
  same on a fresh, empty server, in turns; fresh ids in every run.
- Upgrade: a fresh server holding a million events (`--quick`: 5,000) in subject layout 1
  (as ingest stored them before layout 2), then ingest started on it: its start (the
  listing of layout 1's ids), its memory against an ingest started on an empty stream,
  and reports of that stream sent again (each must be a duplicate of its original).
- Projector figures: the events are first published straight into the stream; a projector
  then starts on an empty database, and the rate is counted between the first position
  change and the target position, read through `GET /v1/totals/<commune>` (its `position`;
  a locality without children, so polling costs the projector next to nothing). Baseline:
  an ordered push consumer of nats-py reading the same sequences, without decoding. Each
  runs three times in turns (read, SQLite, PostgreSQL; read, ...), each projector on a
  fresh database: a run lasts seconds, one is a single sample on a noisy machine. A row
  gives the median run over the median read, and every sample in its notes.
- Rebuild: the events/s of a projector catching up with the big stream from an empty
  database, after its first commit, against an ordered push consumer of nats-py reading
  the same events just before it (the target is that ratio, so it holds on any machine).
- Soak (`soak`): single POSTs open-loop at 1,000/s for 10 minutes (`--set soak_seconds=20`
  for a short one) through a fresh stack. Each minute: the `VmRSS` of ingest, the projector
  and its writer (growth judged after a 3-minute warm-up, in which the writer's SQLite page
  cache fills), and the p99 freshness of the reports accepted in it (202 -> the projector's
  position covers the event). At the end the read model's ids against the 202s: lost,
  doubled, unaccounted.
- Machine speed: the median raw read over the 48k ev/s the same read gave on the machine
  the targets were set on. Ratios to same-run baselines carry across machines (the
  rebuild's too: it is judged against its own raw read); absolute figures (requests/s,
  p99s) are judged as they are, so on a slower machine they miss in proportion (the report
  warns below 0.8x).
- Peak RSS is the most `VmRSS` (`/proc/<pid>/status`) the projector process and the
  writer process it starts held together, sampled at every position poll; each one's own
  `VmHWM` is in the notes.
- `--profile DIR` samples the services with py-spy during the measured phases (diagnosis
  only: the sampler takes CPU).

{KEEP_MARKER}
"""


def write(path: Path, text: str) -> None:
    """Write ``text``, keeping whatever the existing file holds below :data:`KEEP_MARKER`."""
    kept = ""
    if path.exists():
        old = path.read_text()
        if KEEP_MARKER in old:
            kept = old.split(KEEP_MARKER, 1)[1]
    path.write_text(text + kept.lstrip("\n") if kept.strip() else text)
