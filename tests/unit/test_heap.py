"""The services' garbage-collection settings, each in a fresh interpreter (a frozen heap or
a disabled collector would outlive the test in this one)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from cungdan_service.heap import collect_between_batches
collect_between_batches()
frozen, enabled = gc.get_freeze_count(), gc.isenabled()
class Node:
    pass
for _ in range(50_000):  # cycles: automatic collection would have run many times
    a, b = Node(), Node()
    a.other, b.other = b, a
del a, b
pending = gc.get_count()[0]
print(json.dumps({"frozen": frozen, "enabled": enabled, "pending": pending,
                  "collected": gc.collect()}))
"""


def test_collection_waits_for_the_batch_to_end_and_then_frees_its_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    seen = json.loads(out)
    assert seen["frozen"] > 1000  # the startup heap (imports) left out of collections
    assert seen["enabled"] is False
    assert seen["pending"] >= 100_000  # nothing collected while the batch ran
    assert seen["collected"] >= 100_000  # the explicit collection frees every cycle
