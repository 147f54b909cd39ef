"""The one place that reads the data the ``vietnamadminunits`` package ships.

Its files are what the gazetteer (:mod:`.localities`), the legacy-to-2025 province
conversion (``cungdan_service.provinces``) and the demo data are built from:

* ``data/dataset.db``, a SQLite file with one row per commune of each map
  (``admin_units_legacy``, ``admin_units``), which :func:`query` reads;
* ``data/converter_2025.json``, the official merger of provinces and of communes, which
  :func:`province_mergers` and :func:`ward_mergers` read.

Where they lie is the package's internal layout. Reading them directly, read-only, is
fast and does not import the package (whose import loads its address parser's data).
That is done with a version the layout was tested with (:data:`TESTED`, checked against
the installed version with ``importlib.metadata``) whose files are where they were;
otherwise the same rows come from the package's public API
(``vietnamadminunits.database.query``, and ``convert_address`` for the mergers), which
``tests/unit/test_admin_units_data.py`` checks gives the same results. When neither works,
the error names the package, its version and what is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from functools import cache
from importlib import import_module, metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DISTRIBUTION = "vietnamadminunits"
TESTED = ((1, 0), (1, 0))
"""The (major, minor) versions, lowest and highest, whose data layout was tested here."""
DATASET = Path("data") / "dataset.db"
MERGERS = Path("data") / "converter_2025.json"


def installed_version() -> str | None:
    """The installed version of vietnamadminunits (None when it is not installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def is_tested(version: str | None) -> bool:
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return found is not None and TESTED[0] <= (int(found[1]), int(found[2])) <= TESTED[1]


def _package_dir() -> Path:
    spec = find_spec(DISTRIBUTION)  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the vietnamadminunits package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _tested_range() -> str:
    low, high = (".".join(map(str, version)) for version in TESTED)
    return low if low == high else f"{low} to {high}"


@cache
def data_file(relative: Path) -> Path | None:
    """The package's file at ``relative``, when the installed version is one tested and
    the file is there; None means: use the public API. Looked up once per process."""
    path = _package_dir() / relative
    version = installed_version()
    if is_tested(version) and path.is_file():
        return path
    why = f"has no {relative}" if is_tested(version) else f"is not one tested ({_tested_range()})"
    log.warning("vietnamadminunits %s %s; reading its data through its public API", version, why)
    return None


def _unreadable(what: str, exc: BaseException) -> RuntimeError:
    return RuntimeError(
        f"cannot read {what} of vietnamadminunits {installed_version()} (cungdan was tested "
        f"with {_tested_range()}): neither its data files nor its public API work: {exc}")


def query(sql: str) -> list[tuple[Any, ...]]:
    """The rows of a read-only query of ``dataset.db``, each a tuple in the order of the
    columns ``sql`` selects."""
    path = data_file(DATASET)
    if path is not None:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            return list(conn.execute(sql))
    return public_query(sql)


def public_query(sql: str) -> list[tuple[Any, ...]]:
    """:func:`query` through ``vietnamadminunits.database.query`` (the fallback)."""
    try:
        database = import_module("vietnamadminunits.database")
        records: list[dict[str, Any]] = database.query(sql)
    except (ImportError, AttributeError, sqlite3.Error) as exc:
        raise _unreadable("the administrative units", exc) from exc
    return [tuple(record.values()) for record in records]


def province_mergers() -> dict[str, list[str]]:
    """Each 2025 province's key (``provinceKey`` in ``admin_units``) -> the keys of the
    legacy provinces merged into it (``provinceKey`` in ``admin_units_legacy``)."""
    path = data_file(MERGERS)
    if path is not None:
        mergers: dict[str, list[str]] = json.loads(
            path.read_text(encoding="utf-8"))["DICT_PROVINCE"]
        return mergers
    return public_province_mergers()


def public_province_mergers() -> dict[str, list[str]]:
    """:func:`province_mergers` through ``vietnamadminunits.convert_address``, province
    by legacy province (the fallback)."""
    try:
        convert = import_module("vietnamadminunits").convert_address
        mergers: dict[str, list[str]] = {}
        for key, name in public_query(
                "SELECT DISTINCT provinceKey, province FROM admin_units_legacy"):
            mergers.setdefault(str(convert(name).province_key), []).append(str(key))
    except (ImportError, AttributeError) as exc:
        raise _unreadable("the province mergers", exc) from exc
    return mergers


WardMergers = tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, list[dict[str, Any]]]]]


def ward_mergers() -> WardMergers:
    """The commune conversion, as the package keys it: (2025 province key -> 2025 commune
    key -> the legacy units merged into it whole, as ``province_district_commune`` keys;
    2025 province key -> legacy unit key -> the 2025 communes it was split among).

    The public API converts one address at a time to one commune and cannot tell a split,
    so this has no fallback: the error names the version."""
    path = data_file(MERGERS)
    if path is None:
        raise _unreadable("the commune conversion", FileNotFoundError(str(MERGERS)))
    table = json.loads(path.read_text(encoding="utf-8"))
    return table["DICT_PROVINCE_WARD_NO_DIVIDED"], table["DICT_PROVINCE_WARD_DIVIDED"]
