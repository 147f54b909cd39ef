"""Exact quantities: decimals in, decimals out, never a float.

A quantity arrives as a JSON number parsed exactly (see :mod:`.codec`) or as a
decimal string, and is carried on the wire as a decimal string. Read models
store it as an integer count of ``10**-scale`` units of its indicator.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_QUANTITY = Decimal("1e15")
"""Upper bound of one reported quantity (one quadrillion: above any real figure)."""


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise PydanticCustomError(
            "quantity_type", "a quantity must be a JSON number or a decimal string")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise PydanticCustomError(
            "quantity_type", "'{value}' is not a decimal number", {"value": value}) from None
    if not number.is_finite():
        raise PydanticCustomError("quantity_type", "a quantity must be finite")
    if number < 0:
        raise PydanticCustomError(
            "negative_quantity", "a quantity cannot be negative (got {value})",
            {"value": str(value)})
    if number > MAX_QUANTITY:
        raise PydanticCustomError(
            "quantity_too_large", "a quantity cannot exceed {max}", {"max": str(MAX_QUANTITY)})
    return number


def format_decimal(number: Decimal) -> str:
    """Plain notation without an exponent or trailing zeros: ``Decimal('150.000')`` -> ``150``."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


Quantity = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema({
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*\+?[0-9]+(\.[0-9]+)?\s*$"},
        ],
        "description": "A non-negative exact decimal: a JSON number or a decimal string. "
                       "Events carry it as a decimal string.",
    }),
]


def decimal_places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def to_units(number: Decimal, scale: int) -> int:
    """``number`` as an integer count of ``10**-scale`` units (exact; checked by the caller)."""
    scaled = number.scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{number} has more than {scale} decimal places")
    return int(scaled)


def from_units(units: int, scale: int) -> Decimal:
    return Decimal(units).scaleb(-scale)
