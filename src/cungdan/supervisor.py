"""Keeps the processes of ``cungdan run`` up, as ``restart: unless-stopped`` does in
docker-compose.yml: a child that dies (SIGKILL, out of memory, a crash) is started again.

Policy (:class:`RestartPolicy`):

- a dead child is restarted after a delay that doubles with each consecutive failure,
  from ``initial_delay`` up to ``max_delay``; a child that stayed up ``reset_after``
  seconds after it answered healthy starts again from ``initial_delay`` (Docker's restart
  policy does the same);
- a restart that does not become healthy in the child's start timeout counts as one more
  failure;
- it never gives up (``unless-stopped``): a child that cannot start is tried again every
  ``max_delay`` seconds, each attempt logged, until Ctrl-C;
- each death is logged with the PID and how it ended (exit code or signal), each restart
  with the new PID;
- leaving the ``with`` block (Ctrl-C, shutdown) stops the supervision first, so a child
  being stopped is not restarted.

Before a restart the child's whole process group is killed and reaped (the projector's
writer child with it). The policy is plain data with a pure :meth:`RestartPolicy.delay`;
the thread only watches and acts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, Self

from .processes import ProcessStartError

logger = logging.getLogger("cungdan.supervisor")


class Child(Protocol):
    """A restartable child process (:class:`~cungdan.processes.ServiceProcess`,
    :class:`~cungdan.processes.NatsServer`)."""

    @property
    def running(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def exit_description(self) -> str | None: ...

    def kill(self) -> None: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class RestartPolicy:
    initial_delay: float = 0.5
    max_delay: float = 30.0
    reset_after: float = 10.0
    """Seconds up after which a death counts as the first again."""
    check_interval: float = 0.2
    """How often the children are looked at."""

    def delay(self, failures: int) -> float:
        """Seconds to wait before the restart that follows ``failures`` consecutive deaths."""
        return float(min(self.max_delay, self.initial_delay * 2 ** max(0, failures - 1)))


@dataclass
class _Watch:
    healthy_since: float | None
    """When the child last answered healthy (its start returned); ``None`` while its last
    start failed. A start waits up to the child's start timeout, which may exceed
    ``reset_after``: counting from before it would reset the backoff on every failure."""
    failures: int = 0


@dataclass
class Supervisor:
    """Watches ``children`` (by name) in a thread while the ``with`` block runs."""

    children: Mapping[str, Child]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: dict[str, int] = field(default_factory=dict)
    """Restarts done so far, by child name."""

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cungdan-supervisor",
                                        daemon=True)
        now = time.monotonic()
        self._watches = {name: _Watch(now) for name in self.children}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop supervising (a restart under way finishes first); the children stay as
        they are."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self.policy.check_interval):
            for name, child in self.children.items():
                if self._stopping.is_set():
                    return
                if not child.running:
                    self._restart(name, child)

    def _restart(self, name: str, child: Child) -> None:
        watch = self._watches[name]
        up_for = 0.0 if watch.healthy_since is None else time.monotonic() - watch.healthy_since
        if watch.healthy_since is not None and up_for >= self.policy.reset_after:
            watch.failures = 0
        watch.failures += 1
        delay = self.policy.delay(watch.failures)
        if child.pid is None:  # its last start failed (and was cleaned up)
            logger.warning("%s is down; restarting in %.1f s (failure %d in a row)", name,
                           delay, watch.failures)
        else:
            logger.warning("%s (pid %s) died: %s, after %.1f s up; restarting in %.1f s "
                           "(failure %d in a row)", name, child.pid,
                           child.exit_description() or "gone", up_for, delay, watch.failures)
        child.kill()  # the whole process group, reaped
        if self._stopping.wait(delay):
            return
        watch.healthy_since = None
        try:
            child.start()
        except (ProcessStartError, OSError) as exc:
            logger.error("%s did not start again: %s", name, str(exc).splitlines()[0])
            return
        watch.healthy_since = time.monotonic()
        self.restarts[name] = self.restarts.get(name, 0) + 1
        logger.warning("%s restarted (pid %s), healthy", name, child.pid)
