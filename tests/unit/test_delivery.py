"""The reader's lean parse of reply subjects agrees with nats-py's ``Msg.metadata``."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from cungdan_projector.delivery import Delivery, delivery

SHORT = "$JS.ACK.CUNGDAN_ACTIVITY.projector-g1-aaf52397f2f6.1.123456.123450.1763851234123456789.7"
LONG = ("$JS.ACK._.ACCHASH.CUNGDAN_ACTIVITY.projector-g2-0c1d2e3f4a5b.2.98765.98000."
        "1763851234123456789.0.x1y2z3")
LONG_WITHOUT_TOKEN = LONG.rsplit(".", 1)[0]


@pytest.mark.parametrize("reply", [SHORT, LONG, LONG_WITHOUT_TOKEN])
def test_it_reads_what_nats_py_reads(reply: str) -> None:
    metadata = Msg.Metadata._from_reply(reply)
    assert delivery(reply) == Delivery(metadata.sequence.stream, metadata.sequence.consumer,
                                       metadata.num_pending)


def test_the_numbers_are_where_the_server_puts_them() -> None:
    assert delivery(SHORT) == Delivery(stream_seq=123456, consumer_seq=123450, pending=7)
    assert delivery(LONG) == Delivery(stream_seq=98765, consumer_seq=98000, pending=0)


@pytest.mark.parametrize("reply", [
    "_INBOX.abc.def", "$JS.ACK", "$JS.NAK.S.C.1.2.3.4.5", "$JS.ACK.S.C.1.2.3.4",
    "$JS.ACK.S.C.1.2.3.4.5.6", "$JS.ACK.S.C.1.x.3.4.5", ""])
def test_anything_else_is_refused(reply: str) -> None:
    with pytest.raises(ValueError, match="not a JetStream reply subject"):
        delivery(reply)
