"""Bytes <-> models without ever passing a quantity through a float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .activity import ActivityLogged


class MalformedJSONError(ValueError):
    """The bytes are not JSON (or not UTF-8)."""


def loads_exact(data: bytes | str) -> Any:
    """Parse JSON with every non-integer number as an exact :class:`~decimal.Decimal`."""
    try:
        return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJSONError(str(exc)) from None


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not allowed", name, 0)


def encode_event(event: ActivityLogged) -> bytes:
    return event.model_dump_json().encode()


def decode_event(data: bytes) -> ActivityLogged:
    """Decode one stored event; raises :class:`MalformedJSONError` or pydantic's ValidationError."""
    return ActivityLogged.model_validate(loads_exact(data))
