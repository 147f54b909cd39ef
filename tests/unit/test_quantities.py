"""cungdan_contracts.quantities on its own: what each function returns at its edges, and the
error codes (pydantic error ``type``) that ingest turns into metric labels."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from cungdan_contracts.quantities import (
    MAX_QUANTITY,
    Quantity,
    decimal_places,
    format_decimal,
    format_units,
    from_units,
    to_units,
)

QUANTITY: TypeAdapter[Decimal] = TypeAdapter(Quantity)


def refusal(value: object) -> tuple[str, str]:
    """(type, message) of the one error ``value`` gets as a quantity."""
    with pytest.raises(ValidationError) as info:
        QUANTITY.validate_python(value)
    [error] = info.value.errors(include_url=False)
    return error["type"], error["msg"]


# --- parsing: what is a quantity, and the code of each refusal --------------------------------


@pytest.mark.parametrize(("value", "number"), [
    (0, Decimal(0)), (7, Decimal(7)), ("12", Decimal(12)), ("1.5", Decimal("1.5")),
    (" 1.5\t", Decimal("1.5")), ("+2", Decimal(2)), (Decimal("0.001"), Decimal("0.001")),
    (MAX_QUANTITY, MAX_QUANTITY), ("1000000000000", MAX_QUANTITY),
    ("1000000000000.000", MAX_QUANTITY),
])
def test_numbers_and_decimal_strings_are_quantities(value: object, number: Decimal) -> None:
    parsed = QUANTITY.validate_python(value)
    assert isinstance(parsed, Decimal)
    assert parsed == number


@pytest.mark.parametrize("value", ["0", "-0", "0.00", "-0.000", "+0", Decimal("-0E-5"), 0])
def test_every_zero_is_the_plain_zero(value: object) -> None:
    parsed = QUANTITY.validate_python(value)
    assert parsed.as_tuple() == Decimal(0).as_tuple()  # no sign, no exponent
    assert str(parsed) == "0"


@pytest.mark.parametrize("value", [True, False, 1.5, 1.0, None, [1], {"n": 1}, b"1"])
def test_anything_but_int_str_or_decimal_is_a_quantity_type_error(value: object) -> None:
    assert refusal(value) == (
        "quantity_type", "a quantity must be a JSON number or a decimal string")


@pytest.mark.parametrize("value", ["", " ", "1.", ".5", "1e3", "1,5", "x", "1 2", "--1"])
def test_a_string_that_is_not_a_plain_decimal_is_a_quantity_type_error(value: str) -> None:
    assert refusal(value) == (
        "quantity_type", f"'{value}' is not a plain decimal number such as 12 or 1.5")


def test_a_long_bad_string_is_quoted_only_in_part() -> None:
    value = "9" * 30 + "abcdefghijklmnopqrstuvwxyz"
    kind, message = refusal(value)
    assert kind == "quantity_type"
    assert message == f"'{value[:40]}' is not a plain decimal number such as 12 or 1.5"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"),
                                   Decimal("-Infinity")])
def test_a_non_finite_decimal_is_a_quantity_type_error(value: Decimal) -> None:
    assert refusal(value) == ("quantity_type", "a quantity must be finite")


@pytest.mark.parametrize(("value", "shown"), [
    (-1, "-1"), ("-0.5", "-0.5"), (" -2 ", " -2 "), (Decimal("-0.001"), "-0.001"),
])
def test_a_negative_quantity_is_a_negative_quantity_error(value: object, shown: str) -> None:
    assert refusal(value) == (
        "negative_quantity", f"a quantity cannot be negative (got {shown})")


@pytest.mark.parametrize("value", [MAX_QUANTITY + 1, MAX_QUANTITY + Decimal("0.001"),
                                   "1000000000000.001", 10**13])
def test_above_the_maximum_is_a_quantity_too_large_error(value: object) -> None:
    assert refusal(value) == ("quantity_too_large", "a quantity cannot exceed 1E+12")


def test_the_maximum_is_ten_to_the_twelfth() -> None:
    assert Decimal(10**12) == MAX_QUANTITY


# --- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "text"), [
    (Decimal("150.000"), "150"), (Decimal("10"), "10"), (Decimal("100"), "100"),
    (Decimal("1E+3"), "1000"), (Decimal("0.10"), "0.1"), (Decimal("0.001"), "0.001"),
    (Decimal("0E-7"), "0"), (Decimal("0"), "0"), (Decimal("-0.0"), "-0"),
    (Decimal("105.050"), "105.05"), (Decimal("1E-20"), "0.00000000000000000001"),
])
def test_format_decimal_is_plain_without_trailing_zeros(number: Decimal, text: str) -> None:
    assert format_decimal(number) == text


def test_a_quantity_serialises_to_json_as_a_plain_string() -> None:
    assert QUANTITY.dump_json(Decimal("1.500")) == b'"1.5"'
    assert QUANTITY.dump_python(Decimal("1.500")) == Decimal("1.500")  # only JSON is text


# --- decimal places: the short path (up to 19 places) and the long one -----------------------


@pytest.mark.parametrize(("number", "places"), [
    (Decimal("7"), 0), (Decimal("0"), 0), (Decimal("1E+2"), 0), (Decimal("500.000"), 0),
    (Decimal("1.5"), 1), (Decimal("1.50"), 1), (Decimal("0.5"), 1), (Decimal("0.2"), 1),
    (Decimal("1.25"), 2), (Decimal("0.04"), 2), (Decimal("0.001"), 3), (Decimal("0.125"), 3),
    (Decimal("0.0001"), 4), (Decimal("-1.5"), 1),
    (Decimal("1E-19"), 19), (Decimal("0.1234567890123456789"), 19),
])
def test_decimal_places_up_to_nineteen(number: Decimal, places: int) -> None:
    assert number.as_integer_ratio()[1] < 1 << 64  # the arithmetic path
    assert decimal_places(number) == places


@pytest.mark.parametrize(("number", "places"), [
    (Decimal("1E-20"), 20),
    (Decimal("1.00000000000000000001"), 20),
    (Decimal("-1.00000000000000000001"), 20),
    (Decimal("0.00000000000000000000010"), 22),  # a trailing zero is not a place
    (Decimal("1.000000000000000000000000000001"), 30),
    (Decimal("12345678901234567890.1234567890123456789012300"), 23),
    (Decimal("8.470329472543003390683225006796419620513916015625E-22"), 70),  # 2**-70
])
def test_decimal_places_beyond_nineteen(number: Decimal, places: int) -> None:
    assert number.as_integer_ratio()[1] >= 1 << 64  # the digit-by-digit path
    assert decimal_places(number) == places


def test_decimal_places_at_the_power_of_two_boundary() -> None:
    exactly = Decimal(f"{5**64}E-64")  # 1 / 2**64: the denominator is 2**64
    assert exactly.as_integer_ratio()[1] == 1 << 64
    assert decimal_places(exactly) == 64
    below = Decimal(f"{5**63}E-63")  # 1 / 2**63
    assert decimal_places(below) == 63


# --- units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "scale", "units"), [
    (Decimal("1.5"), 3, 1500), (Decimal("0.001"), 3, 1), (Decimal("-1.5"), 3, -1500),
    (Decimal("7"), 0, 7), (Decimal("7.000"), 0, 7), (Decimal("1E+2"), 2, 10000),
    (Decimal("0"), 4, 0), (Decimal("0.5"), 1, 5), (MAX_QUANTITY, 4, 10**16),
])
def test_to_units_is_exact(number: Decimal, scale: int, units: int) -> None:
    converted = to_units(number, scale)
    assert type(converted) is int
    assert converted == units


@pytest.mark.parametrize(("number", "scale"), [
    (Decimal("1.0001"), 3), (Decimal("0.5"), 0), (Decimal("1E-20"), 19), (Decimal("-0.01"), 1),
])
def test_to_units_refuses_what_it_would_have_to_round(number: Decimal, scale: int) -> None:
    with pytest.raises(ValueError, match=f"^{number} has more than {scale} decimal places$"):
        to_units(number, scale)


@pytest.mark.parametrize(("units", "scale", "text"), [
    (0, 0, "0"), (0, 3, "0"), (0, 1, "0"),
    (7, 0, "7"), (-7, 0, "-7"), (1500, 0, "1500"),
    (1500, 3, "1.5"), (1000, 3, "1"), (1, 3, "0.001"), (5, 1, "0.5"), (10, 1, "1"),
    (123456, 2, "1234.56"), (100, 2, "1"), (105050, 3, "105.05"), (1, 4, "0.0001"),
    (-1500, 3, "-1.5"), (-1, 3, "-0.001"), (-1000, 3, "-1"), (10**16, 4, "1000000000000"),
])
def test_format_units(units: int, scale: int, text: str) -> None:
    assert format_units(units, scale) == text
    assert format_units(units, scale) == format_decimal(from_units(units, scale))


@pytest.mark.parametrize(("units", "scale", "number"), [
    (1500, 3, Decimal("1.5")), (1, 4, Decimal("0.0001")), (7, 0, Decimal(7)),
    (-25, 1, Decimal("-2.5")), (0, 3, Decimal(0)),
])
def test_from_units(units: int, scale: int, number: Decimal) -> None:
    value = from_units(units, scale)
    assert value == number
    assert value.as_tuple().exponent == -scale
