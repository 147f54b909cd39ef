"""Message headers parsed when first read, not when received (the projector's connection).

Every stored event carries eight headers (ingest's own, and the ``Nats-Expected-*`` ones
of its publish, which JetStream keeps). nats-py parses them into a dict for each message
it receives, a large share of the projector's reading process, and the projector never
looks at them: it reads an event's headers only to dead-letter it. So its connection
keeps each message's header block as bytes and parses it on first access, the same way
nats-py does.

The override of nats-py's header parsing lives with cungdan's other uses of nats-py's
internals, in :mod:`cungdan_service.natspy`, which leaves nats-py to parse on receipt
when its version is not one the override was tested with.
"""

from __future__ import annotations

from cungdan_service.natspy import LazyHeaders, is_plain, parse_headers_when_read

__all__ = ["LazyHeaders", "is_plain", "parse_headers_when_read"]
