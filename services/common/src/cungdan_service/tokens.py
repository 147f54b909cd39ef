"""The tokens file: API tokens kept only as hashes.

A token is a random 256-bit secret, shown once when it is created. The file keeps
its SHA-256 (a slow password hash adds nothing for a secret that cannot be
guessed), its name, its provinces and its roles::

    {"version": 1, "tokens": [{"name": "lao-cai", "hash": "sha256:...",
      "provinces": ["15"], "roles": ["report"], "created_at": "2025-09-01T03:00:00Z"}]}

Writes are atomic (a temp file renamed over the old one), serialised by a lock
file, and leave the file readable by its owner only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TOKEN_PREFIX = "cdn_"  # noqa: S105 - the public prefix, not a secret
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
"""Token names: lowercase, short; they label metrics and logs."""


def new_secret() -> str:
    """A fresh token: ``cdn_`` and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


class TokenRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    provinces: tuple[str, ...] = Field(min_length=1)
    roles: tuple[str, ...] = Field(min_length=1)
    created_at: dt.datetime


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    tokens: list[TokenRecord] = Field(default_factory=list)


class TokenFile:
    """Reads and changes one tokens file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def signature(self) -> tuple[int, int, int] | None:
        """Changes whenever the file is replaced or written; ``None`` while it is missing."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def read(self) -> list[TokenRecord]:
        """The records; none while the file is missing. Raises ValueError if it is malformed."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return _Document.model_validate_json(text).tokens

    def add(self, name: str, provinces: tuple[str, ...], roles: tuple[str, ...]) -> str:
        """Store a new token under ``name``; returns its secret (the only time it exists)."""
        secret = new_secret()
        record = TokenRecord(name=name, hash=hash_secret(secret), provinces=provinces,
                             roles=roles, created_at=dt.datetime.now(dt.UTC))
        with self._locked():
            records = self.read()
            if any(r.name == name for r in records):
                raise ValueError(f"a token named '{name}' exists; revoke it first")
            self._write([*records, record])
        return secret

    def remove(self, name: str) -> bool:
        with self._locked():
            records = self.read()
            kept = [r for r in records if r.name != name]
            if len(kept) == len(records):
                return False
            self._write(kept)
            return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _write(self, records: list[TokenRecord]) -> None:
        text = _Document(tokens=records).model_dump_json(indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
