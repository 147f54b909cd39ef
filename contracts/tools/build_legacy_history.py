"""Build ``cungdan_contracts/data/legacy_history.json``: when each legacy-map unit existed.

Run by hand, from the repository root, when a source below changes (it needs PyPI, the
npm registry and ``npm`` on the PATH)::

    .venv/bin/python contracts/tools/build_legacy_history.py

vietnamadminunits (what the gazetteer reads at run time) knows the legacy map of
2025-06-30 only. Older lists of the statistics office (GSO) ship in two packages, one
list per release: ``vietnam-provinces`` on PyPI and ``dvhcvn`` on npm. This script
downloads the releases listed below with their registry's own client, records each file's
sha256, checks each list's date against what the release says of itself, and writes the
facts the gazetteer needs (see docs/legacy-history.md):

* ``units``: every unit (district or commune) absent from at least one list, with the
  lists that bound its life: ``from`` = [the last list without it, the first with it]
  when it appeared after the first list; ``until`` = [the last list with it, the first
  without it] when it is not in the 2025-06-30 list (then also its name, its district
  and province as of the last list that has it); ``gaps`` = lists inside that span that
  lack it (the gazetteer bridges them).
* ``names``: the official spelling of units of the 2025-06-30 list, where
  vietnamadminunits spells the same name differently (see :func:`official_name`).

Both packages are GPL-3.0: the file keeps derived facts (codes, names, dates), not their
code.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cungdan_contracts.admin_units_data import DATASET, data_file, installed_version, query

OUT = Path(__file__).resolve().parents[1] / "src/cungdan_contracts/data/legacy_history.json"
FINAL = "2025-06-30"
"""The date of vietnamadminunits' legacy list: the day before the 2025 reform."""

VIETNAM_PROVINCES = {  # version -> the date of the GSO list it ships (Xa_<date>.csv)
    "0.2.2": "2020-02-25",  # 0.2 and 0.2.1 ship the same file
    "0.4.3": "2021-02-03",  # as do 0.3.0 to 0.4.2
    "0.5.0": "2023-05-07",
    "0.6.0": "2025-01-04",  # as does 0.5.8; 2025.x carry the 2025 map
}
VP_DATA = "vietnam_provinces/data/flat-divisions.json"
DVHCVN = ("1.0.20221001", "1.1.20240501", "1.1.20241101", "1.2.20250301")
"""npm ``dvhcvn`` releases: the version's last part is the date of the GSO list, which its
description repeats ("last update: 01/05/2024"), except 1.0.20221001's, left at 01/07/2021:
its data is the project's list of 01/10/2022 (compared with the project's repository)."""
STALE_DESCRIPTION = {"1.0.20221001"}
DV_DATA = "package/lib/index.js"
DV_UNIT = re.compile(r"""new Level([123])\(((?:\d+, )*)(['"])(\d+)\3, (['"])(.*?)\5""")


@dataclass(frozen=True)
class Unit:
    name: str
    district: str | None  # None for a district
    province: str


@dataclass
class Snapshot:
    date: str
    source: dict[str, str]
    units: dict[str, Unit]  # code -> unit, districts (3 digits) and communes (5)
    provinces: dict[str, str]  # code -> name
    names_official: bool = True
    """False when another source's spelling of the same list is preferred for names."""
    communes_only: bool = False
    """True when the list holds communes only, so it cannot show a district without any."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tidy(name: str) -> str:
    return " ".join(name.split())


def vietnam_provinces(version: str, gso_date: str, work: Path) -> Snapshot:
    target = work / f"vp-{version}"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary=:all:", "--python-version", "3.11",
                    f"vietnam-provinces=={version}", "-d", str(target)], check=True)
    (wheel,) = target.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        rows = json.loads(archive.read(VP_DATA))
        meta = next(archive.read(n).decode() for n in archive.namelist()
                    if n.endswith(".dist-info/METADATA"))
    said = set(re.findall(r"Xa_(\d{4}-\d\d-\d\d)\.csv", meta))
    if said != {gso_date}:
        raise SystemExit(f"vietnam-provinces {version} says its list is of {said}, not {gso_date}")
    units: dict[str, Unit] = {}
    provinces: dict[str, str] = {}
    for row in rows:
        province, district = f"{row['province_code']:02d}", f"{row['district_code']:03d}"
        provinces[province] = tidy(row["province_name"])
        units[district] = Unit(tidy(row["district_name"]), None, province)
        if row["ward_code"] is not None:  # island districts have no communes
            units[f"{row['ward_code']:05d}"] = Unit(tidy(row["ward_name"]), district, province)
    return Snapshot(gso_date, {
        "package": "vietnam-provinces", "registry": "PyPI", "version": version,
        "file": wheel.name, "sha256": sha256(wheel), "data": VP_DATA,
        "licence": "GPL-3.0-or-later"}, units, provinces,
        communes_only=all(row["ward_code"] is not None for row in rows))


def dvhcvn(version: str, work: Path) -> Snapshot:
    packed = json.loads(subprocess.run(
        ["npm", "pack", "--json", f"dvhcvn@{version}", "--pack-destination", str(work)],
        check=True, capture_output=True, text=True).stdout)[0]
    tarball = work / packed["filename"]
    gso_date = date(*map(int, re.findall(r"(\d{4})(\d\d)(\d\d)$", version)[0])).isoformat()
    subprocess.run(["tar", "xzf", str(tarball), "-C", str(work), DV_DATA, "package/package.json"],
                   check=True)
    described = json.loads((work / "package/package.json").read_text("utf-8"))["description"]
    said = {f"{y}-{m}-{d}" for d, m, y in re.findall(r"(\d\d)/(\d\d)/(\d{4})", described)}
    if said != {gso_date} and version not in STALE_DESCRIPTION:
        raise SystemExit(f"dvhcvn {version} says its list is of {described!r}")
    units: dict[str, Unit] = {}
    provinces: dict[str, str] = {}
    in_order: list[str] = []  # dvhcvn keys a unit's parents by their index
    districts: dict[int, list[str]] = {}
    for found in DV_UNIT.finditer((work / DV_DATA).read_text("utf-8")):
        level, at = found[1], [int(i) for i in found[2].split(", ") if i]
        code, name = found[4], tidy(found[6])
        if level == "1":
            provinces[code] = name
            in_order.append(code)
        elif level == "2":
            districts.setdefault(at[0], []).append(code)
            units[code] = Unit(name, None, in_order[at[0]])
        else:
            units[code] = Unit(name, districts[at[0]][at[1]], in_order[at[0]])
    return Snapshot(gso_date, {
        "package": "dvhcvn", "registry": "npm", "version": version, "file": tarball.name,
        "sha256": sha256(tarball), "npm_integrity": packed["integrity"], "data": DV_DATA,
        "licence": "GPL-3.0"}, units, provinces, names_official=False)


def final_list() -> Snapshot:
    units: dict[str, Unit] = {}
    provinces: dict[str, str] = {}
    for province, province_name, district, district_name, commune, commune_name in query(
        "SELECT provinceCode, province, districtCode, district, wardCode, ward "
        "FROM admin_units_legacy"
    ):
        provinces[province] = province_name
        units[district] = Unit(district_name, None, province)
        if commune:
            units[commune] = Unit(commune_name, district, province)
    dataset = data_file(DATASET)
    return Snapshot(FINAL, {
        "package": "vietnamadminunits", "registry": "PyPI", "version": installed_version() or "",
        "file": str(DATASET), "sha256": sha256(dataset) if dataset else "",
        "licence": "MIT"}, units, provinces, names_official=False)


# --- names ------------------------------------------------------------------------------------

_TONES = "\u0300\u0301\u0303\u0309\u0323"
_TONE_ON_SECOND = re.compile(  # an open syllable's oa, oe, uy (not qu-) with the tone on a, e, y
    rf"(?<![qQ])([oO])([aAeE])([{_TONES}])(?!\w)|(?<![qQ])([uU])([yY])([{_TONES}])(?!\w)")


def tone_style(name: str) -> str:
    """Tone marks placed as vietnamadminunits places them: 'Hoà' -> 'Hòa', 'Thuỷ' -> 'Thủy'
    (the same spelling, typeset the other way; 'Toàn', 'Quý' are left alone)."""
    def move(m: re.Match[str]) -> str:
        first, second, tone = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
        return first + tone + second
    moved = _TONE_ON_SECOND.sub(move, unicodedata.normalize("NFD", name))
    return unicodedata.normalize("NFC", moved)


def skeleton(name: str) -> str:
    """The letters of a name without accents, case, spaces or punctuation."""
    bare = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    letters = "".join(c for c in bare if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", letters.lower())


def official_name(ours: str, gso: str) -> str:
    """The name the gazetteer shows for a unit of the 2025-06-30 list: GSO's spelling when
    both lists write the same name (equal but for accents, case, spaces or punctuation:
    'Mù Cang Chải' / 'Mù Căng Chải', 'Đăk Glei' / 'Đắk Glei'); vietnamadminunits' name when
    they name it differently (renamed or upgraded in 2025, a different transcription, an
    abbreviation), since its list is the later one."""
    gso = tone_style(gso)
    return gso if skeleton(gso) == skeleton(ours) else ours


# --- the history ------------------------------------------------------------------------------


def history(snapshots: list[Snapshot]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(units, names) as the module's docstring says, from the lists in date order (the
    2025-06-30 list last)."""
    final, dates = snapshots[-1], [s.date for s in snapshots]
    if any(s.provinces.keys() != final.provinces.keys() for s in snapshots):
        raise SystemExit("a province code is missing from some list: the rules assume none")
    islands = ({code for code, u in final.units.items() if u.district is None}
               - {u.district for u in final.units.values()})
    seen: dict[str, list[int]] = {}
    for i, snapshot in enumerate(snapshots):
        # a list of communes only (vietnam-provinces 0.2) lacks the island districts
        for code in snapshot.units.keys() | (islands if snapshot.communes_only else set()):
            seen.setdefault(code, []).append(i)
    named = [s for s in snapshots[:-1] if s.names_official]
    units: dict[str, dict[str, Any]] = {}
    for code in sorted(seen, key=lambda c: (len(c), c)):
        where = seen[code]
        first, last = where[0], where[-1]
        gone = last != len(snapshots) - 1  # not in the 2025-06-30 list
        entry: dict[str, Any] = {}
        if gone:
            at_last = snapshots[last].units[code]
            name = next((s.units[code].name for s in reversed(named) if code in s.units),
                        at_last.name)
            entry = {"name": tone_style(name),
                     "level": "district" if at_last.district is None else "commune",
                     **({"district": at_last.district} if at_last.district else {}),
                     "province": at_last.province}
        if first:
            entry["from"] = [dates[first - 1], dates[first]]
        if gone:
            entry["until"] = [dates[last], dates[last + 1]]
        if gaps := [dates[i] for i in range(first, last) if i not in where]:
            entry["gaps"] = gaps
        if entry:
            units[code] = entry
    newest: dict[str, str] = {}
    for snapshot in named:  # later lists overwrite earlier ones
        newest |= snapshot.provinces | {code: u.name for code, u in snapshot.units.items()}
    names: dict[str, list[str]] = {}
    for code, ours in sorted((final.provinces | {c: u.name for c, u in final.units.items()})
                             .items(), key=lambda kv: (len(kv[0]), kv[0])):
        if (gso := newest.get(code)) and (chosen := official_name(ours, gso)) != ours:
            names[code] = [ours, chosen]
    return units, names


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        snapshots = [vietnam_provinces(v, d, work) for v, d in VIETNAM_PROVINCES.items()]
        snapshots += [dvhcvn(v, work) for v in DVHCVN]
    snapshots.sort(key=lambda s: s.date)
    snapshots.append(final_list())
    units, names = history(snapshots)
    sources = [{"date": s.date, **s.source} for s in snapshots]
    write(sources, units, names)
    gone = sum("until" in u for u in units.values())
    print(f"{OUT}: {len(units)} units ({gone} gone by {FINAL}), {len(names)} official names",
          file=sys.stderr)


def write(sources: list[dict[str, str]], units: dict[str, Any], names: dict[str, Any]) -> None:
    """One unit per line, so that a new release shows as a readable diff."""
    def block(items: dict[str, Any]) -> str:
        return ",\n".join(f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                          for k, v in items.items())
    about = ("Generated by contracts/tools/build_legacy_history.py from the sources below; "
             "do not edit. See docs/legacy-history.md.")
    OUT.write_text(
        "{\n"
        f'  "about": {json.dumps(about)},\n'
        '  "sources": [\n' + ",\n".join(
            f"    {json.dumps(s, ensure_ascii=False)}" for s in sources) + "\n  ],\n"
        '  "units": {\n' + block(units) + "\n  },\n"
        '  "names": {\n' + block(names) + "\n  }\n}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
