"""Print the third-party requirements of local pyproject.toml projects, one per line.

Used by the service Dockerfiles to install dependencies in their own, cached
layer before the sources are copied:

    python external_requirements.py contracts services/common services/ingest

Requirements on one of the named local projects (e.g. ``cungdan-contracts``) are
left out: they are installed from the checkout afterwards.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read the project name of requirement {requirement!r}")
    return _canonical(match.group(1))


def external_requirements(project_dirs: list[Path]) -> list[str]:
    projects = [tomllib.loads((d / "pyproject.toml").read_text(encoding="utf-8"))["project"]
                for d in project_dirs]
    local = {_canonical(p["name"]) for p in projects}
    requirements: list[str] = []
    for project in projects:
        for requirement in project.get("dependencies", []):
            if _name(requirement) not in local and requirement not in requirements:
                requirements.append(requirement)
    return requirements


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: external_requirements.py PROJECT_DIR...", file=sys.stderr)
        return 2
    for requirement in external_requirements([Path(a) for a in argv]):
        print(requirement)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
