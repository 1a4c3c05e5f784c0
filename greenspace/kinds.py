"""The kinds of green space the register holds, as data: parks, pocket parks and squares.

Files name kinds in many ways (公园, 社区公园, 口袋公园, 游园, 广场, park ...);
:func:`get_kind` maps each accepted name to one :class:`Kind`, and an unknown one is
an error that lists them.  Which kinds count for "300米见绿" and "500米见园" is decided
in :mod:`maps.analysis.coverage`, from the keys here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo.errors import InvalidInputError

__all__ = ["KINDS", "KIND_KEYS", "Kind", "get_kind"]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of green space.

    Attributes
    ----------
    key : str
        The stored value (``park``, ``pocket_park``, ``square``).
    name_zh, name_en : str
        Names for maps and tables.
    aliases : tuple of str
        Other names accepted in files (matched ignoring case, spaces, ``-`` and ``_``).
    """

    key: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...]


KINDS: tuple[Kind, ...] = (
    Kind("park", "公园", "park", ("综合公园", "社区公园", "专类公园", "郊野公园", "城市公园", "公园绿地")),
    Kind("pocket_park", "口袋公园", "pocket park", ("游园", "小游园", "街旁绿地", "街头绿地", "pocket")),
    Kind("square", "广场", "square", ("城市广场", "广场用地", "plaza")),
)
"""Every kind, in the order maps and tables list them."""
KIND_KEYS: tuple[str, ...] = tuple(kind.key for kind in KINDS)


def _folded(name: str) -> str:
    """A name as it is matched: lower case, without spaces, hyphens and underscores."""
    return "".join(name.lower().replace("-", " ").replace("_", " ").split())


_BY_NAME: dict[str, Kind] = {
    _folded(name): kind for kind in KINDS for name in (kind.key, kind.name_zh, kind.name_en, *kind.aliases)
}


def get_kind(value: Any) -> Kind:
    """The kind a file's value names.

    Raises
    ------
    InvalidInputError
        An empty or unknown name; the message lists the accepted ones.

    Examples
    --------
    >>> get_kind("社区公园").key, get_kind("Pocket Park").key, get_kind("广场").name_en
    ('park', 'pocket_park', 'square')
    """
    text = "" if value is None or value != value else str(value)
    found = _BY_NAME.get(_folded(text))
    if found is None:
        accepted = "; ".join(
            f"{kind.key} ({', '.join((kind.name_zh, kind.name_en, *kind.aliases))})" for kind in KINDS
        )
        raise InvalidInputError(
            f"kind {text!r} is not a kind of green space; allowed: {accepted}",
            field="kind",
            value=text,
            allowed=list(KIND_KEYS),
        )
    return found
