"""``python -m cungdan_projector.writer_child``: the projector's writer process.

Started by :class:`cungdan_projector.writer.ProcessWriter`, never by hand. It reads the
database URL, then requests ``(generation, packed batch)`` from stdin, applies each one
and writes back ``("ok", BatchResult)``, ``("unavailable", why)`` or ``("refused", why)``.
A request whose batch is None builds the generation's deferred indexes (``("ok", None)``).
It exits when stdin ends.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

from cungdan_service.heap import collect_between_batches

from .bulk import CopiedSums
from .engine import make_engine
from .generations import ReadModel
from .store import GenerationStore
from .writer import is_transient, read_frame, unpack, write_frame


def main() -> None:
    # Ctrl-C or a SIGTERM sent to the whole process group is the service's to handle: it
    # closes stdin after the batch in hand.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break replies
    url = read_frame(requests)
    if url is None:
        return
    model = ReadModel(make_engine(url))
    stores: dict[int, GenerationStore] = {}
    collect_between_batches()
    write_frame(replies, "ready")
    while (request := read_frame(requests)) is not None:
        generation, packed, sums = request
        del request
        store = stores.get(generation)
        if store is None:
            store = stores[generation] = model.generation(generation)
        items = None if packed is None else unpack(packed)
        del packed  # the tuples go as soon as the items are made
        presummed = None if sums is None else CopiedSums(*sums)
        del sums
        try:
            if items is None:  # a request without a batch: the deferred indexes
                store.build_deferred_indexes()
                reply: tuple[str, object] = ("ok", None)
            else:
                reply = ("ok", store.apply(items, presummed))
        except Exception as exc:  # noqa: BLE001 - classified, then the service decides
            outcome = "unavailable" if is_transient(exc) else "refused"
            reply = (outcome, f"{exc.__class__.__name__}: {exc}")
        del items, presummed
        try:
            write_frame(replies, reply)
        except BrokenPipeError:
            return  # the service is gone
        del reply
        gc.collect()


if __name__ == "__main__":
    main()
