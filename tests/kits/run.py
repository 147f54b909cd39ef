"""`cungdan run` (= `make run`) started as a user starts it, for the end-to-end tests: on
free ports and a data directory of the test's, its output read as it comes, waited for
until ready; stopped with Ctrl-C (SIGINT), and its whole process group killed if it does
not stop. And the processes of /proc, to find what it started."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cungdan.processes import free_port

READY = "Ctrl-C stops everything."
"""The line `cungdan run` prints once everything is up."""
PORTS = ("NATS", "NATS_HTTP", "INGEST", "PROJECTOR")
"""The ``CUNGDAN_<name>_PORT`` settings given a free port each."""


@dataclass
class Running:
    proc: subprocess.Popen[str]
    output: list[str]
    """What it printed (stdout and stderr), up to the last :meth:`read_output`."""
    lines: queue.Queue[str]
    ports: dict[str, int]

    def url(self, name: str) -> str:
        """``http://127.0.0.1:<port>`` of ``name`` in :data:`PORTS`."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def read_output(self) -> list[str]:
        """:attr:`output` with what was printed since."""
        while True:
            try:
                self.output.append(self.lines.get_nowait())
            except queue.Empty:
                return self.output

    def tokens(self) -> dict[str, str]:
        """The demo tokens it printed: ``{name: secret}`` (the secret on the name's next
        line)."""
        return {m.group(1): self.output[i + 1].strip() for i, line in enumerate(self.output)
                if (m := re.match(r"^  (demo-\S+) ", line))}


def _lines(stream: Iterable[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


@contextmanager
def cungdan_run(data_dir: Path, args: Sequence[str], extra_env: Mapping[str, str] | None = None,
                *, ready_within: float = 120) -> Iterator[Running]:
    """``cungdan <args>`` (``run ...``) with ``CUNGDAN_DATA_DIR=data_dir`` and the ports of
    :data:`PORTS` free, once it printed :data:`READY`; its exit code must be 0 after
    Ctrl-C."""
    ports = {name: free_port() for name in PORTS}
    env = {**os.environ, "CUNGDAN_DATA_DIR": str(data_dir),
           **{f"CUNGDAN_{name}_PORT": str(port) for name, port in ports.items()},
           **(extra_env or {})}
    env.pop("CUNGDAN_TOKENS_FILE", None)
    proc = subprocess.Popen(
        [sys.executable, "-c",
         f"import sys; from cungdan.cli import main; sys.exit(main({list(args)!r}))"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True)
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + ready_within
        while READY not in output:
            assert proc.poll() is None, "\n".join(output)
            try:
                output.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail("cungdan run did not get ready:\n" + "\n".join(output))
        yield Running(proc, output, lines, ports)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # the whole group: what it started goes too
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=30)
    assert code == 0, "\n".join(output)


def _stats() -> Iterator[tuple[int, list[str]]]:
    """Each process's PID and the fields of its ``/proc/<pid>/stat`` after its name: state,
    parent PID, process group, ... (Linux)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        yield int(stat.parent.name), fields


def children(parent: int) -> list[int]:
    """PIDs whose parent is ``parent`` (zombies included)."""
    return [pid for pid, fields in _stats() if int(fields[1]) == parent]


def live_group_members(pgid: int) -> list[int]:
    """PIDs in process group ``pgid`` that are not zombies."""
    return [pid for pid, fields in _stats() if int(fields[2]) == pgid and fields[0] != "Z"]


def cmdline(pid: int) -> str:
    """Its command line, arguments separated by spaces; ``""`` once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
