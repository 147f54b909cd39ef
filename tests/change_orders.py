"""Every order in which an activity, two corrections and a retraction can stand in the
stream (the activity always there), and the totals each order must give. The same orders
run against the pure fold (``tests/unit/test_fold.py``) and both stores
(``tests/integration/test_store.py``)."""

from __future__ import annotations

import itertools

ORDERS = [order for size in range(1, 5)
          for subset in itertools.combinations(["L", "C1", "C2", "R"], size) if "L" in subset
          for order in itertools.permutations(subset)]
VALUES = {"L": 10, "C1": 20, "C2": 30}
"""The trees planted by the activity and by each correction."""


def expected_trees(order: tuple[str, ...]) -> int:
    """Corrections apply on top of their activity in stream order (one that came first
    waits for it); the last one wins; a retraction zeroes the activity for good."""
    if "R" in order:
        return 0
    corrections = [name for name in order if name.startswith("C")]
    return VALUES[corrections[-1]] if corrections else VALUES["L"]
