"""Exact quantities: decimals in, decimals out, never a float.

A quantity arrives as a JSON number parsed exactly (see :mod:`.codec`) or as a
decimal string, and is carried on the wire as a decimal string. Read models
store it as an integer count of ``10**-scale`` units of its indicator.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_QUANTITY = Decimal("1e12")
"""Upper bound of one reported quantity (10^12: above any real figure, and 10^12 x 10^4
units of the finest indicator still leave room to sum in 64-bit integers)."""


QUANTITY_STRING = r"^\s*[+-]?[0-9]+(\.[0-9]+)?\s*$"
_QUANTITY_STRING = re.compile(QUANTITY_STRING, re.ASCII)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise PydanticCustomError(
            "quantity_type", "a quantity must be a JSON number or a decimal string")
    if isinstance(value, str) and not _QUANTITY_STRING.fullmatch(value):
        raise PydanticCustomError(
            "quantity_type", "'{value}' is not a plain decimal number such as 12 or 1.5",
            {"value": value[:40]})
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only decimals
        raise PydanticCustomError(
            "quantity_type", "'{value}' is not a decimal number", {"value": value}) from None
    if not number.is_finite():
        raise PydanticCustomError("quantity_type", "a quantity must be finite")
    if number.is_zero():
        number = Decimal(0)  # "-0" and "0.00" are the same content as "0"
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


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int), "finite decimals only"
    return exponent


def _significand(number: Decimal) -> tuple[int, int]:
    """``number`` as exact (integer, exponent) with no trailing zeros: no context rounding."""
    sign, digits, _ = number.as_tuple()
    exponent = _exponent(number)
    coefficient = int("".join(map(str, digits)) or "0")
    while coefficient and coefficient % 10 == 0:
        coefficient //= 10
        exponent += 1
    return (-coefficient if sign else coefficient), exponent


_SMALL_DENOMINATOR = 1 << 64
"""Up to here (19 places) the fraction gives the places in a few steps; longer ones take
the digit-by-digit path, which stays linear in the digits."""


def decimal_places(number: Decimal) -> int:
    """Significant decimal places, exactly (``1.50`` has 1), whatever the digit count."""
    denominator = number.as_integer_ratio()[1]  # exact: 2**a * 5**b
    if denominator >= _SMALL_DENOMINATOR:
        coefficient, exponent = _significand(number)
        return max(0, -exponent) if coefficient else 0
    places, power = 0, 1
    while power % denominator:
        places, power = places + 1, power * 10
    return places


def to_units(number: Decimal, scale: int) -> int:
    """``number`` as an exact integer count of ``10**-scale`` units; never rounds."""
    numerator, denominator = number.as_integer_ratio()
    units, rest = divmod(numerator * 10**scale, denominator)  # both ints: exact
    if rest:
        raise ValueError(f"{number} has more than {scale} decimal places")
    return int(units)


def format_units(units: int, scale: int) -> str:
    """``format_decimal(from_units(units, scale))`` in integer arithmetic: ``1500, 3`` ->
    ``1.5``. The read API formats thousands of totals per answer, so this works on the
    digits as a string (twice as fast as ``divmod`` and a formatted fraction)."""
    if not scale:
        return str(units)
    digits = str(abs(units)).rjust(scale + 1, "0")
    whole, fraction = digits[:-scale], digits[-scale:].rstrip("0")
    sign = "-" if units < 0 else ""
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def from_units(units: int, scale: int) -> Decimal:
    return Decimal(units).scaleb(-scale)
