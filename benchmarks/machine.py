"""What the figures were measured on: the machine, the versions, and per-process CPU and
memory read from ``/proc``."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.kits.postgres import postgres_bin_dir

from cungdan.processes import nats_server_binary

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _command_version(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc.__class__.__name__})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) \
        else "unknown"


def _dist(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    try:
        nats_server = _command_version([str(nats_server_binary()), "--version"])
    except FileNotFoundError:
        nats_server = "not found"
    pg_bin = postgres_bin_dir()
    postgres = (_command_version([str(pg_bin / "postgres"), "--version"])
                if pg_bin is not None else "not available")
    return {
        "Python": platform.python_version(),
        "nats-server": nats_server.removeprefix("nats-server: "),
        "nats-py": _dist("nats-py"),
        "SQLAlchemy": _dist("SQLAlchemy"),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": postgres.removeprefix("postgres (PostgreSQL) "),
        "psycopg": _dist("psycopg"),
        "FastAPI": _dist("fastapi"),
        "uvicorn": _dist("uvicorn"),
        "pydantic": _dist("pydantic"),
    }


def code_label() -> str:
    """The commit measured, and whether the working tree differs from it."""
    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    # the report the bench itself rewrites is not a change to the code measured
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                ":(exclude)docs/benchmarks.md")
    return f"{head}" + (" with uncommitted changes" if dirty else "")


def machine() -> dict[str, str]:
    return {
        "cores": str(os.cpu_count()),
        "CPU": cpu_model(),
        "memory": f"{memory_gib():.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``); 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (the projector's writer process)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def tree_seconds(pid: int) -> dict[int, float]:
    """CPU time of ``pid`` and of each process it started, by process id."""
    return {p: cpu_seconds(p) for p in (pid, *descendants(pid))}


def tree_peak_kib(pid: int) -> list[int]:
    """``VmHWM`` of ``pid`` and of each process it started (their sum bounds the peak of
    the whole from above)."""
    return [status_kib(p, "VmHWM") for p in (pid, *descendants(pid))]


def tree_rss_kib(pid: int) -> int:
    """``VmRSS`` of ``pid`` and of the processes it started, together, now."""
    return sum(status_kib(p, "VmRSS") for p in (pid, *descendants(pid)))


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores; /proc/stat), in seconds."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


@dataclass
class CpuMeter:
    """CPU use of some processes over an interval, as fractions of one core, with the bench
    itself and everything else on the machine (``others``: other users' work is noise)."""

    pids: dict[str, int]
    """Each service's process: counted with the processes it starts (the bench's own
    process without them: they are the services)."""

    def __post_init__(self) -> None:
        self._all = dict(self.pids)
        if os.getpid() not in self._all.values():
            self._all["bench (client)"] = os.getpid()
        self._start = {name: self._seconds(pid) for name, pid in self._all.items()}
        self._busy = busy_seconds()
        self._t0 = time.perf_counter()

    @staticmethod
    def _seconds(pid: int) -> dict[int, float]:
        return {pid: cpu_seconds(pid)} if pid == os.getpid() else tree_seconds(pid)

    def shares(self) -> dict[str, float]:
        elapsed = max(1e-9, time.perf_counter() - self._t0)
        shares = {}
        for name, pid in self._all.items():
            before = self._start[name]  # a process started since counts from 0
            shares[name] = sum(now - before.get(p, 0.0)
                               for p, now in self._seconds(pid).items()) / elapsed
        busy = (busy_seconds() - self._busy) / elapsed
        shares["others"] = max(0.0, busy - sum(shares.values()))
        return shares

    def describe(self) -> str:
        return ", ".join(f"{name} {share:.0%}" for name, share in self.shares().items())
