"""The four administrative levels of a Chinese prefecture-level city, as data.

A level has a rank (0 for the city, 3 for the community), an English key used in
files and APIs, a Chinese label, and the NBS statistical-code level it maps to.

One vocabulary names a level wherever a user gives one (a file's level column, the
command line, the API), read the same whatever the value's type:

=============  ====================================  ================================
level          names                                 NBS level number
=============  ====================================  ================================
city           city, prefecture, 市, 地级市            2
district       district, county, 区, 县, 县级市, 区/县   3
subdistrict    subdistrict, township, town, street,  4
               街道, 镇, 乡, 乡镇, 街道/乡镇
community      community, village, 社区, 村, 社区/村,   5
               居委会, 村委会
=============  ====================================  ================================

Numbers are always NBS level numbers (``3``, ``3.0`` and ``"3"`` alike), never ranks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from geo.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Level:
    """One administrative level.

    Attributes
    ----------
    rank : int
        0 = city, 1 = district/county, 2 = subdistrict/township, 3 = community/village.
    key : str
        The English name used in files, columns and APIs.
    label_zh : str
        The Chinese name of the level.
    nbs_level : int
        The level number in the NBS statistical division codes (2..5).
    code_digits : int
        How many leading digits of the 12-digit code identify a unit at this level.
    """

    rank: int
    key: str
    label_zh: str
    nbs_level: int
    code_digits: int


LEVELS: tuple[Level, ...] = (
    Level(0, "city", "市", 2, 4),
    Level(1, "district", "区/县", 3, 6),
    Level(2, "subdistrict", "街道/乡镇", 4, 9),
    Level(3, "community", "社区/村", 5, 12),
)
LEVEL_KEYS: tuple[str, ...] = tuple(level.key for level in LEVELS)
_BY_KEY = {level.key: level for level in LEVELS}
_ALIASES = {
    "prefecture": "city",
    "county": "district",
    "township": "subdistrict",
    "town": "subdistrict",
    "street": "subdistrict",
    "village": "community",
    "市": "city",
    "地级市": "city",
    "区": "district",
    "县": "district",
    "县级市": "district",
    "区/县": "district",
    "街道": "subdistrict",
    "镇": "subdistrict",
    "乡": "subdistrict",
    "乡镇": "subdistrict",
    "街道/乡镇": "subdistrict",
    "社区": "community",
    "村": "community",
    "社区/村": "community",
    "居委会": "community",
    "村委会": "community",
}
_NBS_LEVELS = {level.nbs_level: level for level in LEVELS}
ACCEPTED_FORMS = (
    f"{', '.join(LEVEL_KEYS)} (or prefecture, county, township, town, street, village); "
    "市, 区, 县, 县级市, 街道, 镇, 乡, 社区, 村 (or 区/县, 乡镇, 街道/乡镇, 社区/村, 居委会, 村委会); "
    "or the NBS level number 2 (city), 3 (district), 4 (subdistrict), 5 (community), "
    "as a number or as text"
)
"""The level vocabulary, as error messages list it."""


def get_level(value: str | int | float) -> Level:
    """Return the level for a key, an English or Chinese name, or an NBS level number.

    A number means the same whatever its type: ``3``, ``3.0`` and ``"3"`` are all NBS
    level 3 (district).  Ranks (0..3) are never read from values: a 0 or a 1 in a file
    is refused rather than guessed at.

    Raises
    ------
    InvalidInputError
        The value is none of :data:`ACCEPTED_FORMS`; the message lists them.

    Examples
    --------
    >>> get_level("county").key
    'district'
    >>> get_level("街道").key, get_level(5).key, get_level("4").key, get_level(2.0).key
    ('subdistrict', 'community', 'subdistrict', 'city')
    >>> get_level(1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.errors.InvalidInputError: unknown level 1 (NBS level 1 is a province; ...
    """
    if isinstance(value, bool):
        raise _unknown(value)
    if isinstance(value, (int, float)):
        return _by_number(value)
    text = str(value).strip()
    if _NUMBER.fullmatch(text):
        return _by_number(float(text))
    key = _ALIASES.get(text.lower(), _ALIASES.get(text, text.lower()))
    level = _BY_KEY.get(key)
    if level is None:
        raise _unknown(value)
    return level


_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")


def _by_number(number: float) -> Level:
    whole = math.isfinite(number) and number == int(number)
    if whole and int(number) in _NBS_LEVELS:
        return _NBS_LEVELS[int(number)]
    note = " (NBS level 1 is a province; a city's boundary set starts at 2, the city)" if number == 1 else ""
    raise _unknown(int(number) if whole else number, note)


def _unknown(value: object, note: str = "") -> InvalidInputError:
    return InvalidInputError(
        f"unknown level {value!r}{note}; allowed: {ACCEPTED_FORMS}",
        field="level",
        value=str(value),
        allowed=list(LEVEL_KEYS),
    )
