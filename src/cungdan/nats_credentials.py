"""The broker's passwords of a local run: made once, kept in the data directory, never shown.

``cungdan run`` and the tests' stacks lock nats-server down with the users and permissions
of ``deploy/nats/nats-auth.conf``, as production does. That file takes each user's password
from nats-server's environment; a cluster's routes need one more. They are random, begin
with letters (nats-server reads an environment value as a config token, and one beginning
with a digit is taken for a number), and are written once, mode 0600, like the API tokens
file. A run after the first finds them there, so a stream and its clients outlive restarts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

USERS = ("ingest", "projector", "reader")
"""The users of deploy/nats/nats-auth.conf."""
ROUTE_USER = "route"
"""The user the nodes of a cluster authenticate each other's routes with."""


def _new_password() -> str:
    return "pw" + secrets.token_hex(24)


@dataclass(frozen=True, repr=False)
class NatsCredentials:
    passwords: Mapping[str, str]
    """User (each of :data:`USERS`, and :data:`ROUTE_USER`) -> password."""

    def password(self, user: str) -> str:
        return self.passwords[user]

    def server_env(self) -> dict[str, str]:
        """What nats-server's environment needs for deploy/nats/nats-auth.conf."""
        return {f"CUNGDAN_NATS_{user.upper()}_PASSWORD": self.passwords[user] for user in USERS}

    def client_url(self, user: str, servers: Sequence[str]) -> str:
        """``CUNGDAN_NATS_URL`` of ``user``: every server (``host:port``), with credentials."""
        password = self.passwords[user]
        return ",".join(f"nats://{user}:{password}@{server}" for server in servers)

    def secrets(self) -> list[str]:
        """Every password, to check that none was written where it should not be."""
        return list(self.passwords.values())

    def __repr__(self) -> str:
        return f"NatsCredentials(users={sorted(self.passwords)})"


def generate() -> NatsCredentials:
    return NatsCredentials({user: _new_password() for user in (*USERS, ROUTE_USER)})


def load_or_create(path: Path) -> NatsCredentials:
    """The credentials kept in ``path``; made and written there (mode 0600) on first use.

    A file missing a user (written by an older version) gets it added."""
    stored: dict[str, str] = {}
    if path.exists():
        document = json.loads(path.read_text(encoding="utf-8"))
        stored = {str(k): str(v) for k, v in document.get("passwords", {}).items()}
    wanted = (*USERS, ROUTE_USER)
    if all(stored.get(user) for user in wanted):
        return NatsCredentials(stored)
    credentials = NatsCredentials({user: stored.get(user) or _new_password() for user in wanted})
    _write(path, credentials)
    return credentials


def _write(path: Path, credentials: NatsCredentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"passwords": dict(credentials.passwords)}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
