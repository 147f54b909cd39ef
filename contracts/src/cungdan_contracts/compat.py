"""The compatibility gate: schema-registry style rules between two JSON Schemas.

``BACKWARD``: a reader with the new schema reads everything written with the old one
(so consumers can upgrade first). ``FORWARD``: a reader with the old schema reads
what is written with the new one. ``FULL``: both. A breaking change must come as a
new major version, side by side: a new ``.vN`` file, never an edit of a published
one.

The check walks both schemas together, resolving ``$ref``. It reports every place
where the reader would refuse some document the writer may produce. Descriptions,
titles and ``$defs`` names do not matter.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

Schema = dict[str, Any]


class Mode(StrEnum):
    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    FULL = "FULL"


def check(old: Schema, new: Schema, mode: Mode) -> list[str]:
    """Violations of ``mode`` when ``old`` is replaced by ``new`` (empty: compatible)."""
    problems: list[str] = []
    if mode in (Mode.BACKWARD, Mode.FULL):
        problems += [f"BACKWARD: {p}" for p in _readable(writer=old, reader=new)]
    if mode in (Mode.FORWARD, Mode.FULL):
        problems += [f"FORWARD: {p}" for p in _readable(writer=new, reader=old)]
    return problems


def _readable(writer: Schema, reader: Schema) -> list[str]:
    return _Walk(writer, reader).node(writer, reader, "$")


_TYPE_IMPLIES = {"integer": {"integer", "number"}}


class _Walk:
    def __init__(self, writer_root: Schema, reader_root: Schema) -> None:
        self._roots = (writer_root, reader_root)

    def _resolve(self, node: Schema, root: Schema) -> Schema:
        seen = 0
        while "$ref" in node and seen < 50:
            path = node["$ref"].removeprefix("#/").split("/")
            target: Any = root
            for part in path:
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        return node

    def node(self, writer: Schema, reader: Schema, at: str) -> list[str]:
        w = self._resolve(writer, self._roots[0])
        r = self._resolve(reader, self._roots[1])
        if "anyOf" in w:  # every shape the writer may produce must be readable
            return [p for alt in w["anyOf"] for p in self.node(alt, reader, at)]
        if "anyOf" in r:
            attempts = [self.node(writer, alt, at) for alt in r["anyOf"]]
            return [] if any(not a for a in attempts) else min(attempts, key=len)
        problems = self._scalars(w, r, at)
        problems += self._objects(w, r, at)
        if "items" in w or "items" in r:
            problems += self.node(w.get("items", {}), r.get("items", {}), f"{at}[]")
        return problems

    def _scalars(self, w: Schema, r: Schema, at: str) -> list[str]:
        problems = []
        w_types, r_types = _types(w), _types(r)
        if r_types is not None:
            missing = ({"(any type)"} if w_types is None else
                       {t for t in w_types if not _TYPE_IMPLIES.get(t, {t}) & r_types})
            if missing:
                problems.append(f"{at}: type {sorted(missing)} no longer accepted")
        if "enum" in r:
            lost = [v for v in w.get("enum", [None]) if v not in r["enum"]] if "enum" in w \
                else ["(any value)"]
            if lost:
                problems.append(f"{at}: values no longer accepted: {lost}")
        if "const" in r and w.get("const", object()) != r["const"]:
            problems.append(f"{at}: must now be {r['const']!r}")
        for key in ("pattern", "format"):
            if key in r and w.get(key) != r[key]:
                problems.append(f"{at}: {key} changed to {r[key]!r}")
        for key, tighter in (("maxLength", min), ("maximum", min), ("maxItems", min),
                             ("maxProperties", min), ("exclusiveMaximum", min),
                             ("minLength", max), ("minimum", max), ("minItems", max),
                             ("minProperties", max), ("exclusiveMinimum", max)):
            if key in r and (key not in w or tighter(w[key], r[key]) != w[key]):
                problems.append(f"{at}: {key} tightened to {r[key]!r}")
        return problems

    def _objects(self, w: Schema, r: Schema, at: str) -> list[str]:
        problems = []
        w_props, r_props = w.get("properties", {}), r.get("properties", {})
        r_extra, w_extra = r.get("additionalProperties", True), w.get("additionalProperties", True)
        for name, sub in w_props.items():
            if name in r_props:
                problems += self.node(sub, r_props[name], f"{at}.{name}")
            elif r_extra is False:
                problems.append(f"{at}.{name}: field no longer accepted")
            elif isinstance(r_extra, dict):
                problems += self.node(sub, r_extra, f"{at}.{name}")
        for name in r.get("required", []):
            if name not in w.get("required", []):
                problems.append(f"{at}.{name}: newly required")
        if w_extra is not False and r_extra is False and (w.get("type") == "object"):
            problems.append(f"{at}: other fields no longer accepted")
        if isinstance(w_extra, dict) and isinstance(r_extra, dict):
            problems += self.node(w_extra, r_extra, f"{at}.*")
        if "propertyNames" in w or "propertyNames" in r:
            problems += self.node(w.get("propertyNames", {}), r.get("propertyNames", {}),
                                  f"{at}.<key>")
        return problems


def _types(node: Schema) -> set[str] | None:
    value = node.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


POLICY: dict[str, Mode] = {
    "ActivityReport.v1": Mode.BACKWARD,
    "ActivityLogged.v1": Mode.FULL,
    "ActivityReport.v2": Mode.BACKWARD,
    "ActivityLogged.v2": Mode.BACKWARD,
    "CorrectionRequest.v1": Mode.BACKWARD,
    "RetractionRequest.v1": Mode.BACKWARD,
    "ActivityCorrected.v1": Mode.BACKWARD,
    "ActivityRetracted.v1": Mode.BACKWARD,
    "PeriodRequest.v1": Mode.BACKWARD,
    "ControlTotalsRequest.v1": Mode.BACKWARD,
    "PeriodClosed.v1": Mode.BACKWARD,
    "PeriodReopened.v1": Mode.BACKWARD,
    "ControlTotalsSubmitted.v1": Mode.BACKWARD,
}
"""The rule each published contract is held to. Events already in the log for good
(v1) are held to FULL: they can no longer change at all. The current ones are held
to BACKWARD: catalogs may grow, and consumers upgrade the contracts package first."""


def gate(published_dir: Path) -> dict[str, list[str]]:
    """Check every published schema against the current model of the same name."""
    from .schemas import CONTRACTS, schema_of

    results: dict[str, list[str]] = {}
    for path in sorted(published_dir.glob("*.schema.json")):
        name = path.name.removesuffix(".schema.json")
        if name not in CONTRACTS:
            results[name] = ["published, but no model of that name and version any more"]
            continue
        published = json.loads(path.read_text(encoding="utf-8"))
        results[name] = check(published, schema_of(CONTRACTS[name]), POLICY[name])
    return results


if __name__ == "__main__":  # pragma: no cover - thin CLI
    failures = {k: v for k, v in gate(Path(sys.argv[1])).items() if v}
    for name, problems in failures.items():
        print(name, *problems, sep="\n  ")
    sys.exit(1 if failures else 0)
