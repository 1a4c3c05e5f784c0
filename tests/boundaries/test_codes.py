"""Short unit codes (6-digit GB/T 2260, 9-digit township) read as 12-digit ones."""

from __future__ import annotations

import pytest

from boundaries.codes import AmbiguousCodeError, as_given, full_code, padded, short_code

CODES = frozenset({"370900000000", "370902000000", "370902002000", "370902002001"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("370900", "370900000000"),
        ("370902", "370902000000"),
        ("370902002", "370902002000"),
        ("370902002001", "370902002001"),  # 12 digits: as it is
        ("370999", "370999000000"),  # unknown: its 12-digit form, for lineage to explain
        ("3709", "3709"),  # not a short form: as it is (and unknown to the caller)
        ("37090200200", "37090200200"),
        ("city:园林局", "city:园林局"),
        ("３７０９０２", "３７０９０２"),  # full-width digits are not a code
    ],
)
def test_full_code(given: str, expected: str) -> None:
    assert full_code(given, CODES) == expected


@pytest.mark.parametrize("given", ["370902", "370902002"])
def test_a_set_keyed_by_short_codes_keeps_them(given: str) -> None:
    assert full_code(given, {given}) == given


@pytest.mark.parametrize("given", ["370902", "370902002"])
def test_a_code_that_names_two_units_is_ambiguous(given: str) -> None:
    with pytest.raises(AmbiguousCodeError, match=f"unit code '{given}' is ambiguous") as caught:
        full_code(given, CODES | {given, str(padded(given))})
    assert caught.value.detail["candidates"] == [given, padded(given)]


@pytest.mark.parametrize(
    ("code", "short"),
    [
        ("370900000000", "370900"),
        ("370902000000", "370902"),
        ("370902002000", "370902002"),
        ("370902002001", None),
        ("370902", None),
    ],
)
def test_short_code_round_trips(code: str, short: str | None) -> None:
    assert short_code(code) == short
    if short is not None:
        assert full_code(short, CODES | {code}) == code


def test_messages_name_the_value_given() -> None:
    assert as_given("370999", "370999000000") == "'370999' (read as 370999000000)"
    assert as_given("370902000000", "370902000000") == "'370902000000'"
