"""The mutation score of each module from ``mutmut results --all true``, less the
equivalent mutants (tests/mutation/equivalent.txt: one name a line, ``#`` starts a reason).

    python tests/mutation/score.py results.txt tests/mutation/equivalent.txt

A mutant that timed out counts as killed (the tests did not pass). A listed equivalent mutant
that is no longer "survived" is reported: the list is stale (the source moved on).
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+?)\.x\S*__mutmut_\d+): (?P<status>[\w ]+)$")


def main(results: Path, equivalent: Path) -> int:
    excluded = {line.split("#", 1)[0].strip() for line in equivalent.read_text("utf-8")
                .splitlines()} - {""}
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    stale, survivors = [], []
    for line in results.read_text("utf-8").splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        name, module, status = match["name"], match["module"], match["status"].strip()
        if name in excluded:
            counts[module]["equivalent"] += 1
            if status != "survived":
                stale.append(f"{name}: {status}")
            continue
        counts[module][status] += 1
        if status not in ("killed", "timeout"):
            survivors.append(f"{name}: {status}")
    for module, count in sorted(counts.items()):
        detected = count["killed"] + count["timeout"]
        scored = sum(count.values()) - count["equivalent"]
        print(f"{module}: {detected}/{scored} killed = {100 * detected / scored:.1f}% "
              f"({dict(count)})")
    for name in survivors:
        print(f"  not killed: {name}")
    for name in stale:
        print(f"  listed as equivalent but {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
