"""Unit codes as people write them: the 12-digit statistical code, or its short forms.

The boundary set keys units by the 12-digit code of the National Bureau of Statistics
(统计用区划代码: 2 digits province, 2 city, 2 county, 3 township, 3 village).  Amap,
most city systems and people use shorter forms of the same code:

* the 6-digit GB/T 2260 code of a city or county-level unit (``370900`` 泰安市,
  ``370902`` 泰山区), which is the 12-digit code without its six trailing zeros;
* the 9-digit code of a township or subdistrict (``370902001`` 财源街道), the
  12-digit code without its three trailing zeros.

:func:`full_code` maps either to the 12-digit code, checked against the codes of a
generation; every place that takes a unit code (the API, the command line, staff
tokens, webhooks, department keys such as ``370902:城管局``) goes through it, so a short
code reaches the same unit, lineage and successors as its 12-digit form.
"""

from __future__ import annotations

from collections.abc import Container

from geo.errors import NotFoundError

FULL_LENGTH = 12
SHORT_FORMS: dict[int, str] = {
    6: "the 6-digit GB/T 2260 code of a city or county-level unit (370902)",
    9: "the 9-digit code of a township or subdistrict (370902001)",
}
ALLOWED = "a 12-digit unit code (370902000000), " + ", or ".join(SHORT_FORMS.values())
"""What a unit code may be, for error messages."""


class AmbiguousCodeError(NotFoundError):
    """A short code that names two units of the generation (its own and its padded form)."""

    code = "ambiguous_unit"


def padded(code: str) -> str | None:
    """The 12-digit form of a short code, or ``None`` when ``code`` is not one.

    Examples
    --------
    >>> padded("370902"), padded("370902001"), padded("370902000000"), padded("城管局")
    ('370902000000', '370902001000', None, None)
    """
    if len(code) in SHORT_FORMS and code.isascii() and code.isdigit():
        return code.ljust(FULL_LENGTH, "0")
    return None


def full_code(code: str, known: Container[str]) -> str:
    """The code of the unit that ``code`` names among the ``known`` codes.

    Parameters
    ----------
    code : str
        A 12-digit code, a 6- or 9-digit short code, or any code the set uses.
    known : container of str
        The codes of the generation the code is resolved against.

    Returns
    -------
    str
        ``code`` itself when it is known or not a short code; else its 12-digit form,
        known or not (so that a code of another generation finds its lineage).

    Raises
    ------
    AmbiguousCodeError
        The set holds both the short code itself and its 12-digit form.

    Examples
    --------
    >>> codes = {"370900000000", "370902000000", "370902001000"}
    >>> full_code("370902", codes), full_code("370900", codes), full_code("370902001", codes)
    ('370902000000', '370900000000', '370902001000')
    >>> full_code("370902000000", codes), full_code("370999", codes)
    ('370902000000', '370999000000')
    >>> full_code("370902", codes | {"370902"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    boundaries.codes.AmbiguousCodeError: unit code '370902' is ambiguous: the boundary set has both ...
    """
    full = padded(code)
    if full is None:
        return code
    if code in known:
        if full in known:
            raise AmbiguousCodeError(
                f"unit code {code!r} is ambiguous: the boundary set has both {code} and {full}; "
                "give the whole code",
                value=code,
                candidates=[code, full],
            )
        return code
    return full


def as_given(code: str, full: str) -> str:
    """How a resolved code is named in messages: the value given, and what it was read as.

    Examples
    --------
    >>> as_given("370999", "370999000000"), as_given("370902000000", "370902000000")
    ("'370999' (read as 370999000000)", "'370902000000'")
    """
    return repr(code) if code == full else f"{code!r} (read as {full})"


def short_code(code: str) -> str | None:
    """The short form people use for a 12-digit code: 6 digits for a city or county-level
    unit, 9 for a township or subdistrict, ``None`` for a village or community (or a code
    that is not 12 digits).

    Examples
    --------
    >>> short_code("370902000000"), short_code("370902001000"), short_code("370902001001")
    ('370902', '370902001', None)
    """
    if len(code) != FULL_LENGTH or not (code.isascii() and code.isdigit()):
        return None
    for length in sorted(SHORT_FORMS):
        if code[length:] == "0" * (FULL_LENGTH - length):
            return code[:length]
    return None
