"""The versions of a dependency whose internals cungdan was tested against.

An adapter that reaches into a dependency's private parts (:mod:`.natspy`,
:mod:`.fastapi_routes`, the projector's ``sqlalchemy_compat``) uses them only when the
installed version lies in the range it was tested with, and none of the names it needs
is missing; otherwise it uses the dependency's public API, which gives the same result,
more slowly. An upgrade can keep a private name and change what it does, which no
attribute check would see: hence the range. It is one of minor versions, as cungdan's
constraints pin them; ``tests/unit/test_dependency_versions.py`` checks that the version
``constraints.txt`` pins lies in each range, so moving a pin past a range fails there
until the adapter's tests have run on the new version and the range is widened.

Each adapter decides once, at setup (a connection, a route, a table), never per call,
and says in the log when it falls back.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

log = logging.getLogger(__name__)

_MINOR = re.compile(r"(\d+)\.(\d+)")

_reported: set[tuple[str, str]] = set()
"""(feature, reason) already logged: a fallback is said once per process."""


def minor_of(version: str) -> tuple[int, int] | None:
    """(major, minor) of a version string such as ``2.16.0`` or ``2.17.0rc1``."""
    found = _MINOR.match(version)
    return None if found is None else (int(found[1]), int(found[2]))


@cache
def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (None when it is not installed as such),
    looked up once per process."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True, slots=True)
class VersionsTested:
    """The minor versions of ``distribution``, ``lowest`` to ``highest`` inclusive, that
    an adapter was tested with."""

    distribution: str
    lowest: tuple[int, int]
    highest: tuple[int, int]

    def covers(self, version: str) -> bool:
        found = minor_of(version)
        return found is not None and self.lowest <= found <= self.highest

    def installed(self) -> str | None:
        """The installed version (None when the distribution is not installed as such)."""
        return installed_version(self.distribution)

    def allows(self, feature: str, missing: Iterable[str] = ()) -> bool:
        """Whether ``feature`` may use the internals: the installed version is in the
        range and ``missing`` (the internals not found) is empty. When not, logs once
        why ``feature`` falls back to the public API."""
        version = self.installed()
        absent = sorted(missing)
        if version is not None and self.covers(version) and not absent:
            return True
        reason = (f"lacks {', '.join(absent)}" if absent else
                  f"is {version or 'of an unknown version'}, not one tested ({self})")
        if (feature, reason) not in _reported:
            _reported.add((feature, reason))
            log.warning("%s: the installed %s %s; using its public API instead",
                        feature, self.distribution, reason)
        return False

    def __str__(self) -> str:
        low, high = (".".join(map(str, v)) for v in (self.lowest, self.highest))
        return low if low == high else f"{low} to {high}"
