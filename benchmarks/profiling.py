"""Optional sampling profiles of the services while a figure is measured (``--profile DIR``).

Uses ``py-spy`` when it is installed (it is not a dependency of the project:
``pip install py-spy``). py-spy samples from outside the process, so the service runs its
ordinary code; the sampler itself takes CPU, so figures measured with ``--profile`` are for
diagnosis only, not for the table.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.outputs: list[Path] = []
        if directory is not None:
            if py_spy() is None:
                raise SystemExit("--profile needs py-spy: pip install py-spy")
            directory.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def attach(self, name: str, pid: int | None) -> Iterator[None]:
        """Sample ``pid`` (all its threads, idle ones excluded) for the duration of the block."""
        binary = py_spy()
        if self.directory is None or pid is None or binary is None:
            yield
            return
        out = self.directory / f"{name}.txt"
        log = (self.directory / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
             "--format", "raw",
             "--output", str(out)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            self.outputs.append(out)


IDLE_LEAVES = (
    "_worker (concurrent/futures/thread.py:81)",  # a pool thread waiting for work
    "Runner.run (asyncio/runners.py:118)",  # uvloop's C event loop, waiting
    "select (selectors.py",
    "wait (threading.py",
    "_wait_for_tstate_lock (threading.py",
)
"""Leaf frames of threads that wait rather than work (py-spy samples some of them)."""


def summarize(path: Path, top: int = 15) -> str:
    """Top frames of a py-spy ``raw`` (collapsed stacks) file, as shares of the busy samples
    (idle leaves dropped): by own time, and inclusive (frames common to nearly all stacks
    left out)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = busy = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"{path}: {exc}"
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        if any(frames[-1].startswith(idle) for idle in IDLE_LEAVES):
            continue
        busy += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not busy:
        return f"{path}: no busy samples ({total} in all)"
    out = [f"{path.name}: {busy} busy samples of {total}", "  own time:"]
    out += [f"    {n / busy:6.1%}  {frame}" for frame, n in own.most_common(top)]
    out.append("  inclusive:")
    shown = [(f, n) for f, n in inclusive.most_common() if n < 0.9 * busy][:top]
    out += [f"    {n / busy:6.1%}  {frame}" for frame, n in shown]
    return "\n".join(out)
