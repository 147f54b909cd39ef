"""What the reader needs of a JetStream message's reply subject, parsed lean.

A message the server delivers for a consumer carries its place in the reply subject
(``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``,
or the longer form with a domain and an account hash first). nats-py's ``Msg.metadata``
parses all of it into objects and a datetime, once per message on the event loop that
also decodes; the reader needs three numbers, and parses only those (the costs of both
are in ``docs/benchmarks.md``).
"""

from __future__ import annotations

from typing import NamedTuple

from nats.aio.msg import Msg

_SHORT = 9
"""Tokens of the first form (no domain, no account hash)."""
_LONG_AT_LEAST = 11
"""Tokens of the second form, at least (nats-py accepts 11 and more)."""


class Delivery(NamedTuple):
    stream_seq: int
    consumer_seq: int
    pending: int
    """Messages the server still has for the consumer after this one."""


def delivery(reply: str) -> Delivery:
    """The stream sequence, consumer sequence and pending count of a delivered message;
    ``ValueError`` for a reply subject that is not a JetStream acknowledgement subject."""
    tokens = reply.split(".")
    if len(tokens) >= 2 and tokens[0] == Msg.Ack.Prefix0 and tokens[1] == Msg.Ack.Prefix1:
        try:
            if len(tokens) == _SHORT:
                return Delivery(int(tokens[5]), int(tokens[6]), int(tokens[8]))
            if len(tokens) >= _LONG_AT_LEAST:
                return Delivery(int(tokens[Msg.Ack.StreamSeq]),
                                int(tokens[Msg.Ack.ConsumerSeq]),
                                int(tokens[Msg.Ack.NumPending]))
        except ValueError:
            pass  # a number that is not one
    raise ValueError(f"not a JetStream reply subject: {reply!r}")


class Delivered(NamedTuple):
    """A message as the reader hands it out, with its place in the stream."""

    seq: int
    """Its stream sequence."""
    pending: int
    """Messages the server still had for the consumer after it."""
    msg: Msg
