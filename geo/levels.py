"""The four administrative levels of a Chinese prefecture-level city, as data.

A level has a rank (0 for the city, 3 for the community), an English key used in
files and APIs, a Chinese label, and the NBS statistical-code level it maps to.
"""

from __future__ import annotations

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
    "county": "district",
    "prefecture": "city",
    "township": "subdistrict",
    "town": "subdistrict",
    "street": "subdistrict",
    "village": "community",
    "市": "city",
    "区": "district",
    "县": "district",
    "街道": "subdistrict",
    "乡镇": "subdistrict",
    "镇": "subdistrict",
    "乡": "subdistrict",
    "社区": "community",
    "村": "community",
}


def get_level(value: str | int) -> Level:
    """Return the level for a key, alias, Chinese label, rank or NBS level number.

    Examples
    --------
    >>> get_level("county").key
    'district'
    >>> get_level(3).key
    'community'
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(LEVELS):
            return LEVELS[value]
        raise InvalidInputError(
            f"level rank {value!r} is not allowed; allowed ranks are 0..{len(LEVELS) - 1}",
            field="level",
            value=value,
        )
    key = str(value).strip()
    key = _ALIASES.get(key.lower(), _ALIASES.get(key, key.lower()))
    if key.isdigit() and 2 <= int(key) <= 5:
        return LEVELS[int(key) - 2]
    level = _BY_KEY.get(key)
    if level is None:
        raise InvalidInputError(
            f"unknown level {value!r}; allowed: {', '.join(LEVEL_KEYS)}",
            field="level",
            value=str(value),
            allowed=list(LEVEL_KEYS),
        )
    return level
