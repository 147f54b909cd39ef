"""A throwaway PostgreSQL cluster (``initdb``/``pg_ctl``) for the tests and the benchmarks.

Not part of the shipped ``cungdan`` package: the tests' fixtures (``tests/conftest.py``) and
``benchmarks`` start one where PostgreSQL's binaries are installed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from cungdan.processes import LOCALHOST, ProcessStartError, free_port, log_tail, wait_pid_gone

_PG_TOOLS = ("initdb", "pg_ctl", "postgres")
_DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _pg_version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: PATH first, then Debian's newest."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        candidates.append(Path(on_path).parent)
    candidates += sorted(_DEBIAN_PG_ROOT.glob("*/bin"), key=_pg_version_key, reverse=True)
    for bin_dir in candidates:
        if all(_is_executable(bin_dir / tool) for tool in _PG_TOOLS):
            return bin_dir
    return None


def _server_account() -> pwd.struct_passwd | None:
    """Who runs the PostgreSQL binaries: None (ourselves) unless we are root, which they refuse."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return pwd.getpwnam("nobody")


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, user `postgres`).

    Everything lives in `base_dir` (default: a new temp dir, removed by `close()`): `data/`,
    `sock/` and `postgres.log`. As root the binaries run as the `postgres` user (else `nobody`),
    so `base_dir` is chowned to it and all its parents must be world-traversable (pytest's
    `tmp_path` is not: it is under a 0700 directory).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        base_dir: Path | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError(
                f"PostgreSQL binaries {_PG_TOOLS} not found on PATH nor in {_DEBIAN_PG_ROOT}/*/bin"
            )
        self.bin_dir = bin_dir
        self.port = port or free_port()
        self._owns_base_dir = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="cungdan-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "postgres.log"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._account = _server_account()
        self._pid: int | None = None
        self._prepare_base_dir()

    @staticmethod
    def available() -> bool:
        """Whether initdb, pg_ctl and postgres can be found."""
        return postgres_bin_dir() is not None

    @property
    def dsn(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@{LOCALHOST}:{self.port}/postgres"

    @property
    def conninfo(self) -> str:
        """libpq URL, for psycopg.connect() or psql."""
        return f"postgresql://postgres@{LOCALHOST}:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while started."""
        return self._pid

    def _prepare_base_dir(self) -> None:
        account = self._account
        if account is not None:
            for parent in self.base_dir.resolve().parents:
                if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
                    raise PermissionError(
                        f"{parent} is not world-traversable, so user {account.pw_name} cannot "
                        f"reach {self.base_dir}: leave base_dir unset to get a temp dir"
                    )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if account is None:
            return
        for path in (self.base_dir, self.socket_dir):
            os.chown(path, account.pw_uid, account.pw_gid)
            path.chmod(0o700)

    def _run(self, tool: str, *args: str, timeout: float) -> None:
        account = self._account
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            timeout=timeout,
            check=False,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
        )
        if result.returncode != 0:
            raise ProcessStartError(
                f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\nlog {self.log_file}:\n{log_tail(self.log_file)}"
            )

    def start(self) -> None:
        """initdb on first use, then `pg_ctl start -w` on the same port and data dir."""
        if self._pid is not None:
            raise RuntimeError(f"postgres already started (pid {self._pid})")
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                "--encoding=UTF8", "--no-locale", "--no-sync",
                timeout=self.start_timeout,
            )  # fmt: skip
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses={LOCALHOST}"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log_file),
            "-w", "-t", str(int(self.start_timeout)), "start",
            timeout=self.start_timeout + 10,
        )  # fmt: skip
        pid_file = self.data_dir / "postmaster.pid"
        self._pid = int(pid_file.read_text().splitlines()[0])

    def stop(self) -> None:
        """`pg_ctl stop -m fast`, then make sure by PID (SIGKILL if needed). Idempotent."""
        pid = self._pid
        if pid is None:
            return
        with contextlib.suppress(ProcessStartError, subprocess.TimeoutExpired):
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-m", "fast",
                "-w", "-t", str(int(self.stop_timeout)), "stop",
                timeout=self.stop_timeout + 10,
            )  # fmt: skip
        # pg_ctl may have failed or timed out: the PID settles it.
        if not wait_pid_gone(pid, self.stop_timeout):
            self.kill()
        self._pid = None

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (a crash). Idempotent."""
        pid = self._pid
        if pid is None:
            return
        try:
            # pg_ctl starts the postmaster with setsid(): its group holds all the backends.
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not wait_pid_gone(pid, self.stop_timeout):
            raise RuntimeError(f"postmaster {pid} survived SIGKILL")
        # An unreaped (zombie) postmaster still "exists" for the next postmaster's lock check.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
        self._pid = None

    def close(self) -> None:
        """Stop, and remove the base dir if this object created it."""
        self.stop()
        if self._owns_base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
