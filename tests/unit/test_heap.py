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


FULL_COLLECTIONS = """
import gc, json
from cungdan_service.heap import collect_fully_less_often
full = []
gc.callbacks.append(lambda phase, info: phase == "stop" and full.append(info["generation"]))
def batch():  # a million live containers while they are made, as batches of decoded events
    kept = [[i] for i in range(1_000_000)]
    del kept
    return full.count(2)
before = batch()
collect_fully_less_often()
full.clear()
after = batch()
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
del a, b
print(json.dumps({"before": before, "after": after, "enabled": gc.isenabled(),
                  "cycle freed": gc.collect() >= 2}))
"""


def test_full_collections_are_ten_times_rarer_and_cycles_still_go() -> None:
    out = subprocess.run([sys.executable, "-c", FULL_COLLECTIONS], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    seen = json.loads(out)
    assert seen["before"] >= 5  # CPython's default walks the live batch again and again
    assert seen["after"] <= seen["before"] // 5
    assert seen["enabled"] is True and seen["cycle freed"] is True
