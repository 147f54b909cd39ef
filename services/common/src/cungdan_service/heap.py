"""Process-wide memory settings of the services: the garbage collector and malloc."""

from __future__ import annotations

import ctypes
import gc


def freeze_startup_heap() -> int:
    """Collect once, then move every object alive now to the permanent generation.

    A service loads many long-lived objects at start (the gazetteer of both maps, pydantic
    and FastAPI schemas, SQLAlchemy metadata). Every full collection walked them all: a
    stall in the middle of whichever request triggered it. Frozen,
    they are left out, and full collections scan only what requests allocate. Called by
    the entry points once the app is built, not by ``create_app``: tests build many apps
    in one process, and frozen objects are never collected.

    Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def collect_between_batches() -> None:
    """For a process that works batch after batch: freeze the startup heap and stop
    automatic collection. The caller runs ``gc.collect()`` once each batch is done.

    A batch keeps its items, tallies and rows alive until it ends, and automatic
    collections walked them again and again while they were made, for nothing. Collected
    once per batch, after it, the same garbage goes (cycles included) and memory stays
    bounded by a batch.
    """
    freeze_startup_heap()
    gc.disable()


FULL_COLLECTION_EVERY = 100
"""Collections of the middle generation between two full ones (CPython's default: 10)."""


def collect_fully_less_often() -> None:
    """Full collections ten times rarer than CPython's default, for a service that keeps
    a batch of objects alive while it works on it.

    The projector holds two batches of decoded events while they are written; ingest, the
    reports of the requests in flight. Every full collection walked them all, and none of
    them was garbage. Young collections run as before, and garbage
    cycles that outlive them wait for the next full one: the services make few.
    """
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


M_ARENA_MAX = -8
"""``mallopt`` parameter of glibc (malloc.h)."""


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (default: 8 per core).

    Each thread that allocates gets an arena of its own, and the memory freed in one is
    not reused by the others: the projector decodes batches in worker threads, and held
    more memory at peak for it (no change in speed with 2 or 1).
    Same as ``MALLOC_ARENA_MAX=2``, set from inside. Returns False where glibc is absent.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))
