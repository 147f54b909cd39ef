"""The versions ``constraints.txt`` pins lie in the ranges each adapter of a dependency's
internals was tested with, so moving a pin past a range fails here: run the adapter's
tests on the new version, then widen its range (``cungdan_service.versions``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cungdan_contracts import admin_units_data
from cungdan_projector.sqlalchemy_compat import SQLALCHEMY
from cungdan_service.fastapi_routes import FASTAPI
from cungdan_service.natspy import NATS_PY
from cungdan_service.versions import VersionsTested, minor_of

CONSTRAINTS = Path(__file__).resolve().parents[2] / "constraints.txt"


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#")[0].strip())
        if found:
            pins[re.sub(r"[-_.]+", "-", found[1]).lower()] = found[2]
    return pins


@pytest.mark.parametrize("tested", [NATS_PY, FASTAPI, SQLALCHEMY], ids=str)
def test_the_pinned_version_is_one_tested(tested: VersionsTested) -> None:
    pinned = _pins()[tested.distribution]
    assert tested.covers(pinned), f"{tested.distribution}=={pinned} is outside {tested}"
    assert tested.installed() is not None and tested.covers(tested.installed() or "")


def test_the_pinned_vietnamadminunits_is_one_tested() -> None:
    pinned = _pins()[admin_units_data.DISTRIBUTION]
    assert admin_units_data.is_tested(pinned)
    assert admin_units_data.is_tested(admin_units_data.installed_version())


@pytest.mark.parametrize(("version", "minor"), [
    ("2.16.0", (2, 16)), ("0.165.0", (0, 165)), ("2.17.0rc1", (2, 17)), ("3", None),
])
def test_minor_versions(version: str, minor: tuple[int, int] | None) -> None:
    assert minor_of(version) == minor


def test_a_range_covers_its_ends_only() -> None:
    tested = VersionsTested("x", (2, 16), (2, 17))
    assert [tested.covers(v) for v in ("2.15.9", "2.16.0", "2.17.3", "2.18.0", "3.16.0")] == [
        False, True, True, False, False]
    assert str(tested) == "2.16 to 2.17" and str(NATS_PY) == "2.16"
