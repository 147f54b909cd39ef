"""Bytes <-> models without ever passing a quantity through a float."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from .activity_v2 import ActivityLoggedV2
from .events import Event, event_from_json


class MalformedJSONError(ValueError):
    """The bytes are not JSON (or not UTF-8)."""


def loads_exact(data: bytes | str) -> Any:
    """Parse JSON with every non-integer number as an exact :class:`~decimal.Decimal`.

    A string escaping half of a UTF-16 pair (``"\\ud800"``) is refused: JSON allows it,
    but it is not Unicode text, so it could be neither answered back nor stored."""
    try:
        value = json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJSONError(str(exc)) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise MalformedJSONError(str(exc)) from None
    except RecursionError:
        raise MalformedJSONError("JSON nested too deeply") from None
    suspect = (_MAY_HOLD_SURROGATE.search(data) if isinstance(data, bytes)
               else _MAY_HOLD_SURROGATE_TEXT.search(data))
    if suspect is not None and _holds_lone_surrogate(value):
        raise MalformedJSONError("a string holds a lone UTF-16 surrogate (an escape such as "
                                 "\\ud800 without its pair): not Unicode text")
    return value


_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_MAY_HOLD_SURROGATE_TEXT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
"""How a surrogate gets into parsed JSON: an escape, or its UTF-8 form, which
``json.loads`` lets through ("surrogatepass"). Most bodies have neither and skip the walk
(a pair that makes one character is found by this and passes the walk)."""


def _holds_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return False


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not allowed", name, 0)


def encode_event(event: BaseModel) -> bytes:
    return event.model_dump_json().encode()


def decode_event(data: bytes) -> Event:
    """Decode one stored event of any known version into its current shape.

    Raises :class:`MalformedJSONError`, :class:`~.upcasting.UnknownContractError`
    or pydantic's ValidationError.

    The current ``ActivityLogged`` as ingest encodes it (quantities as decimal strings) is
    parsed and validated by pydantic-core in one step, about twice as fast. Anything else
    (older versions, other events, quantities as JSON numbers, invalid bytes) fails that
    step and takes the exact path: JSON numbers never pass through a float either way,
    since a float quantity is refused by :data:`~.quantities.Quantity`.
    """
    try:
        return ActivityLoggedV2.model_validate_json(data)
    except ValidationError:
        pass
    decoded = loads_exact(data)
    if not isinstance(decoded, dict):
        raise MalformedJSONError("an event is a JSON object")
    return event_from_json(decoded)
