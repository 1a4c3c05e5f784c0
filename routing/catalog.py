"""The category catalog: what a report is about, who owns it, and how long they have.

The catalog is data (``routing/catalog.toml``), modelled on GB/T 30428.2 / CJ/T 214:
components (部件, ``B``) and events (事件, ``S``) in major classes (大类, ``B-01``)
and minor classes (小类, ``B-01-01``).  Each minor class is a :class:`Category` with
its owning level (and department), a time limit with its unit, and the filing and
closing conditions (立案条件 / 结案条件).  The file's header documents the code
scheme and every field.

Everything is validated when loaded: a problem raises
:class:`~routing.errors.CatalogDataError` with a message naming the file, the
category code, the field, the bad value and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from geo.errors import InvalidInputError
from geo.levels import LEVEL_KEYS, get_level
from routing._toml import read_toml
from routing.calendar import MAX_AMOUNT, TIME_UNITS, WorkCalendar, default_calendar
from routing.errors import CatalogDataError, UnknownCategoryError

KINDS: dict[str, tuple[str, str]] = {"component": ("B", "部件"), "event": ("S", "事件")}
"""Kind of a category -> (code letter, Chinese name)."""
_KIND_BY_LETTER = {letter: kind for kind, (letter, _) in KINDS.items()}
CODE_PATTERN = re.compile(r"^([BS])-(\d{2})-(\d{2})$")
"""A category code: kind letter, major class and minor class, e.g. ``B-01-01``."""
MAJOR_PATTERN = re.compile(r"^([BS])-(\d{2})$")
# What Catalog.get accepts besides the canonical form: any case, "-", "_", " " or nothing
# between the parts ("b0101", "S_04_01"), as people type codes from paper forms.
_LOOSE_CODE = re.compile(r"^([BS])[-_ ]?(\d{2})[-_ ]?(\d{2})$", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
OWNER_ALLOWED = "community, subdistrict, district, city:<department> (optionally level:<department>)"

_TOP_FIELDS = frozenset({"schema", "name", "version", "standard", "major", "category"})
_MAJOR_FIELDS = frozenset({"code", "name_zh", "name_en"})
_REQUIRED_FIELDS = ("code", "name_zh", "name_en", "owner", "limit", "limit_unit", "filing", "closing")
_CATEGORY_FIELDS = frozenset({*_REQUIRED_FIELDS, "aliases", "demand"})


def normalize_code(code: str) -> str | None:
    """The canonical form of a category code typed loosely, or None if it is not one.

    Examples
    --------
    >>> normalize_code("b0101"), normalize_code(" S_04_01 "), normalize_code("0101")
    ('B-01-01', 'S-04-01', None)
    """
    found = _LOOSE_CODE.match(code.strip())
    return f"{found[1].upper()}-{found[2]}-{found[3]}" if found else None


# --------------------------------------------------------------------------- model
@dataclass(frozen=True, slots=True)
class Owner:
    """Who handles a category: an administrative level and optionally a department.

    The level is one of :data:`geo.levels.LEVEL_KEYS`; the routing service resolves
    it to the unit of that level containing the report (for ``city`` the department
    is required, since "the city" is no one's desk).

    Examples
    --------
    >>> owner = Owner.parse("city:园林局")
    >>> owner.level, owner.department, owner.key, owner.rank
    ('city', '园林局', 'city:园林局', 0)
    """

    level: str
    department: str | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVEL_KEYS:
            raise CatalogDataError(
                f"owner: unknown level {self.level!r}; allowed: {OWNER_ALLOWED}",
                field="owner",
                value=self.level,
                allowed=list(LEVEL_KEYS),
            )
        if self.department is not None and not self.department.strip():
            raise CatalogDataError(
                f"owner {self.key!r}: empty department; allowed: {OWNER_ALLOWED}",
                field="owner",
                value=self.key,
            )
        if self.level == "city" and self.department is None:
            raise CatalogDataError(
                "owner 'city' needs a department, e.g. 'city:园林局'; allowed: " + OWNER_ALLOWED,
                field="owner",
                value=self.level,
            )

    @classmethod
    def parse(cls, value: str) -> Owner:
        """Parse ``level`` or ``level:department``."""
        level, separator, department = value.partition(":")
        return cls(level.strip(), department.strip() if separator else None)

    @property
    def key(self) -> str:
        """The written form, ``level`` or ``level:department``."""
        return f"{self.level}:{self.department}" if self.department is not None else self.level

    @property
    def rank(self) -> int:
        """0 for the city .. 3 for the community (see :mod:`geo.levels`)."""
        return get_level(self.level).rank

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"key": self.key, "level": self.level, "department": self.department}


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """A handling time limit (处置时限): an amount in one of :data:`~routing.calendar.TIME_UNITS`.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> limit = TimeLimit(4, "working_hours")
    >>> str(limit)
    '4 working_hours'
    >>> limit.due(datetime(2025, 3, 7, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))).isoformat()
    '2025-03-10T11:00:00+08:00'
    """

    amount: int | float
    unit: str

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"

    def due(self, start: datetime, calendar: WorkCalendar | None = None) -> datetime:
        """The deadline of a case opened at ``start`` (default: the packaged calendar)."""
        return (calendar or default_calendar()).add(start, self.amount, self.unit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"amount": self.amount, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class MajorClass:
    """A major class (大类), e.g. ``B-01`` 公用设施.

    Examples
    --------
    >>> MajorClass("S-04", "街面秩序", "Street order").kind
    'event'
    """

    code: str
    name_zh: str
    name_en: str

    @property
    def kind(self) -> str:
        """``component`` (部件) or ``event`` (事件)."""
        return _KIND_BY_LETTER[self.code[0]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"code": self.code, "kind": self.kind, "name_zh": self.name_zh, "name_en": self.name_en}


@dataclass(frozen=True, slots=True)
class Category:
    """A minor class (小类): one type of report.

    Attributes
    ----------
    code : str
        ``K-MM-NN``, e.g. ``B-01-01``.
    name_zh, name_en : str
        Chinese and English names.
    owner : Owner
        Owning level and optional department.
    time_limit : TimeLimit
        Handling time limit.
    filing, closing : str
        Filing (立案条件) and closing (结案条件) conditions, Chinese text.
    aliases : tuple of str
        Keywords and colloquial names for intake matching.
    demand : bool
        A report of missing green space or fitness facilities near homes (a demand
        signal for the pocket-park analysis), rather than a defect.
    """

    code: str
    name_zh: str
    name_en: str
    owner: Owner
    time_limit: TimeLimit
    filing: str
    closing: str
    aliases: tuple[str, ...] = ()
    demand: bool = False

    @property
    def kind(self) -> str:
        """``component`` (部件) or ``event`` (事件), from the code's letter."""
        return _KIND_BY_LETTER[self.code[0]]

    @property
    def kind_zh(self) -> str:
        """``部件`` or ``事件``."""
        return KINDS[self.kind][1]

    @property
    def major(self) -> str:
        """The major class code, e.g. ``B-01``."""
        return self.code[:4]

    def due(self, start: datetime, calendar: WorkCalendar | None = None) -> datetime:
        """The deadline of a case of this category opened at ``start``."""
        return self.time_limit.due(start, calendar)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form.

        Examples
        --------
        >>> load_catalog().get("B-01-01").to_dict()["time_limit"]
        {'amount': 2, 'unit': 'hours'}
        """
        return {
            "code": self.code,
            "kind": self.kind,
            "kind_zh": self.kind_zh,
            "major": self.major,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "owner": self.owner.to_dict(),
            "time_limit": self.time_limit.to_dict(),
            "filing": self.filing,
            "closing": self.closing,
            "aliases": list(self.aliases),
            "demand": self.demand,
        }


@dataclass(frozen=True)
class Catalog:
    """A validated set of major classes and categories, categories ordered by code.

    Construction checks what spans entries: category codes and Chinese names are
    unique, and every category's major class is declared.

    Examples
    --------
    >>> catalog = load_catalog()
    >>> catalog.get("b0101").name_zh
    '井盖缺失'
    >>> [c.name_zh for c in catalog.demand_categories()]
    ['缺少健身设施', '绿地缺失']
    """

    majors: tuple[MajorClass, ...]
    categories: tuple[Category, ...]
    name: str = ""
    version: str = ""
    standard: str = ""
    source: str = "<Catalog>"
    _by_code: dict[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        majors: dict[str, MajorClass] = {}
        for major in self.majors:
            if major.code in majors:
                raise CatalogDataError(
                    f"{self.source}: major class {major.code} is declared twice; "
                    "allowed: one [[major]] per code",
                    file=self.source,
                    code=major.code,
                    field="code",
                )
            majors[major.code] = major
        by_code: dict[str, Category] = {}
        by_name: dict[str, str] = {}
        for position, category in enumerate(self.categories, start=1):
            where = f"{self.source}: category {category.code}"
            if category.code in by_code:
                first = next(i for i, c in enumerate(self.categories, start=1) if c.code == category.code)
                raise CatalogDataError(
                    f"{where}: duplicate code (entries #{first} and #{position}); allowed: unique codes",
                    file=self.source,
                    code=category.code,
                    field="code",
                    value=category.code,
                )
            if category.major not in majors:
                raise CatalogDataError(
                    f"{where}: field 'code': major class {category.major} is not declared; "
                    f"allowed: {', '.join(sorted(majors)) or 'none declared'} (add a [[major]] table)",
                    file=self.source,
                    code=category.code,
                    field="code",
                    value=category.major,
                    allowed=sorted(majors),
                )
            if category.name_zh in by_name:
                raise CatalogDataError(
                    f"{where}: field 'name_zh': {category.name_zh!r} is already the name of "
                    f"{by_name[category.name_zh]}; allowed: unique Chinese names",
                    file=self.source,
                    code=category.code,
                    field="name_zh",
                    value=category.name_zh,
                )
            by_code[category.code] = category
            by_name[category.name_zh] = category.code
        # sorted by code: components before events, then major and minor number
        object.__setattr__(self, "majors", tuple(sorted(self.majors, key=lambda m: m.code)))
        object.__setattr__(self, "categories", tuple(sorted(self.categories, key=lambda c: c.code)))
        object.__setattr__(self, "_by_code", by_code)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> Catalog:
        """Build a catalog from the parsed TOML structure (see ``catalog.toml``).

        Examples
        --------
        >>> data = {
        ...     "major": [{"code": "S-04", "name_zh": "街面秩序", "name_en": "Street order"}],
        ...     "category": [{
        ...         "code": "S-04-01", "name_zh": "占道经营", "name_en": "Street vending",
        ...         "owner": "subdistrict", "limit": 2, "limit_unit": "working_hours",
        ...         "filing": "占道摆摊。", "closing": "已清理。"}],
        ... }
        >>> Catalog.from_dict(data).get("S-04-01").owner.key
        'subdistrict'
        """
        if not isinstance(data, dict):
            raise CatalogDataError(f"{source}: the catalog must be a TOML table", file=source)
        _only_fields(data, _TOP_FIELDS, source, "top level", None)
        schema = data.get("schema", 1)
        if schema != 1:
            raise CatalogDataError(
                f"{source}: field 'schema': {schema!r} is not supported; allowed: 1",
                file=source,
                field="schema",
                value=repr(schema),
            )
        majors = [
            _parse_major(entry, index, source)
            for index, entry in enumerate(_tables(data, "major", source), 1)
        ]
        categories = [
            _parse_category(entry, index, source)
            for index, entry in enumerate(_tables(data, "category", source), 1)
        ]
        meta = {key: _optional_text(data, key, source) for key in ("name", "version", "standard")}
        return cls(tuple(majors), tuple(categories), source=source, **meta)

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.categories)

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and normalize_code(code) in self._by_code

    @property
    def codes(self) -> tuple[str, ...]:
        """All category codes, in order."""
        return tuple(c.code for c in self.categories)

    def get(self, code: str) -> Category:
        """The category with ``code`` (loosely typed codes such as ``b0101`` are accepted).

        Raises :class:`~routing.errors.UnknownCategoryError` naming the code and
        suggesting close codes, including categories whose name or alias is ``code``.

        Examples
        --------
        >>> load_catalog().get("S-04-01").time_limit.unit
        'working_hours'
        >>> load_catalog().get("占道经营")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        routing.errors.UnknownCategoryError: unknown category code '占道经营'; did you mean S-04-01 ...
        """
        if not isinstance(code, str):
            raise InvalidInputError(
                f"category code {code!r} is not a string; allowed: codes like B-01-01 or S-04-01",
                field="code",
                value=repr(code),
            )
        category = self._by_code.get(normalize_code(code) or "")
        if category is not None:
            return category
        suggestions = self.suggest(code)
        hint = ", ".join(f"{c} ({self._by_code[c].name_zh})" for c in suggestions)
        raise UnknownCategoryError(
            f"unknown category code {code!r}; "
            + (f"did you mean {hint}? " if hint else "")
            + "Codes look like B-01-01 (部件) or S-04-01 (事件)",
            field="code",
            value=code,
            suggestions=suggestions,
        )

    def suggest(self, text: str, limit: int = 5) -> list[str]:
        """Codes close to ``text``: categories named or aliased by it first, then similar codes.

        Examples
        --------
        >>> load_catalog().suggest("井盖丢失")
        ['B-01-01']
        """
        term = text.strip()
        named = [
            c.code
            for c in self.categories
            if term and (term in c.name_zh or any(term in alias for alias in c.aliases))
        ]
        key = normalize_code(term) or term.upper()
        # typos in codes are one or two keystrokes (a digit wrong, two swapped); among
        # equally close codes, prefer the nearest number (B-01-99 -> B-01-06, the last one)
        distances = {code: _typo_distance(key, code) for code in self.codes}
        similar = sorted(
            (code for code, distance in distances.items() if distance <= 2),
            key=lambda code: (distances[code], abs(_digits(code) - _digits(key))),
        )[:3]
        return list(dict.fromkeys(named + similar))[:limit]

    def major(self, code: str) -> MajorClass:
        """The major class ``code`` (``B-01``).

        Examples
        --------
        >>> load_catalog().major("S-05").name_zh
        '突发事件'
        """
        for major in self.majors:
            if major.code == code.strip().upper():
                return major
        raise UnknownCategoryError(
            f"unknown major class {code!r}; allowed: {', '.join(m.code for m in self.majors)}",
            field="major",
            value=code,
            allowed=[m.code for m in self.majors],
        )

    def in_major(self, code: str) -> tuple[Category, ...]:
        """The categories of major class ``code``, in order.

        Examples
        --------
        >>> [c.code for c in load_catalog().in_major("S-06")]
        ['S-06-01', 'S-06-02']
        """
        major = self.major(code)
        return tuple(c for c in self.categories if c.major == major.code)

    def demand_categories(self) -> tuple[Category, ...]:
        """Categories flagged as green-space/fitness demand (for the pocket-park analysis).

        Examples
        --------
        >>> [c.code for c in load_catalog().demand_categories()]
        ['B-04-04', 'B-04-05']
        """
        return tuple(c for c in self.categories if c.demand)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: metadata, major classes (with their category codes) and categories.

        Examples
        --------
        >>> sorted(load_catalog().to_dict())
        ['categories', 'majors', 'name', 'standard', 'version']
        """
        return {
            "name": self.name,
            "version": self.version,
            "standard": self.standard,
            "majors": [
                {**m.to_dict(), "categories": [c.code for c in self.categories if c.major == m.code]}
                for m in self.majors
            ],
            "categories": [c.to_dict() for c in self.categories],
        }


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog file; ``None`` loads the packaged ``routing/catalog.toml``.

    Examples
    --------
    >>> catalog = load_catalog()
    >>> len(catalog), catalog.categories[0].code
    (44, 'B-01-01')
    """
    data, source = read_toml(path, resource="catalog.toml", error=CatalogDataError, what="catalog")
    return Catalog.from_dict(data, source=source)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The packaged catalog, loaded once.

    Examples
    --------
    >>> default_catalog() is default_catalog()
    True
    """
    return load_catalog()


# --------------------------------------------------------------------------- parsing
def _typo_distance(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i, char_a in enumerate(a, start=1):
        row = [i]
        for j, char_b in enumerate(b, start=1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def _digits(code: str) -> int:
    digits = "".join(ch for ch in code if ch.isdigit())
    return int(digits) if digits else 0


def _fail(source: str, code: str | None, field: str | None, message: str, **detail: Any) -> CatalogDataError:
    where = f"{source}: category {code}" if code else source
    if field:
        where += f": field {field!r}"
    return CatalogDataError(f"{where}: {message}", file=source, code=code, field=field, **detail)


def _only_fields(
    table: dict[str, Any], allowed: frozenset[str], source: str, what: str, code: str | None
) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(
            source,
            code,
            None,
            f"unknown field {unknown[0]!r} in {what}; allowed: {', '.join(sorted(allowed))}",
            value=unknown[0],
            allowed=sorted(allowed),
        )


def _tables(data: dict[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _fail(source, None, key, f"must be an array of tables ([[{key}]])")
    return entries


def _optional_text(data: dict[str, Any], key: str, source: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _fail(source, None, key, f"{value!r} is not allowed; allowed: a string")
    return value


def _text(entry: dict[str, Any], key: str, source: str, code: str | None, allowed: str) -> str:
    value = entry.get(key)
    if value is None:
        raise _fail(source, code, key, f"missing; allowed: {allowed}", value=None)
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, code, key, f"{value!r} is not allowed; allowed: {allowed}", value=repr(value))
    return value.strip()


def _parse_major(entry: dict[str, Any], index: int, source: str) -> MajorClass:
    code = _text(entry, "code", source, None, "a major class code like B-01 or S-04")
    if not MAJOR_PATTERN.match(code):
        raise _fail(
            source,
            None,
            "code",
            f"major class {index}: {code!r} is not allowed; allowed: B-NN or S-NN like B-01",
        )
    label = f"major class {code}"
    _only_fields(entry, _MAJOR_FIELDS, source, label, None)
    name_zh = _text(entry, "name_zh", source, None, f"the Chinese name of {label}")
    name_en = _text(entry, "name_en", source, None, f"the English name of {label}")
    return MajorClass(code, name_zh, name_en)


def _parse_category(entry: dict[str, Any], index: int, source: str) -> Category:
    code = entry.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise _fail(
            source,
            None,
            "code",
            f"category #{index}: {code!r} is not allowed; allowed: K-MM-NN with K = B (部件) or "
            "S (事件), e.g. B-01-01",
            value=repr(code),
        )
    _only_fields(entry, _CATEGORY_FIELDS, source, f"category {code}", code)
    missing = [key for key in _REQUIRED_FIELDS if key not in entry]
    if missing:
        raise _fail(
            source,
            code,
            missing[0],
            f"missing; required fields: {', '.join(_REQUIRED_FIELDS)}",
            value=None,
            allowed=list(_REQUIRED_FIELDS),
        )
    name_zh = _text(entry, "name_zh", source, code, "a non-empty Chinese name")
    if not _CJK.search(name_zh):
        raise _fail(source, code, "name_zh", f"{name_zh!r} has no Chinese character; allowed: a Chinese name")
    name_en = _text(entry, "name_en", source, code, "a non-empty English name")
    if not _LATIN.search(name_en):
        raise _fail(source, code, "name_en", f"{name_en!r} has no Latin letter; allowed: an English name")

    owner_text = _text(entry, "owner", source, code, OWNER_ALLOWED)
    try:
        owner = Owner.parse(owner_text)
    except CatalogDataError as exc:
        raise _fail(
            source,
            code,
            "owner",
            exc.message.removeprefix("owner: "),
            value=owner_text,
            allowed=list(LEVEL_KEYS),
        ) from exc

    unit = entry.get("limit_unit")
    if unit not in TIME_UNITS:
        raise _fail(
            source,
            code,
            "limit_unit",
            f"{unit!r} is not allowed; allowed: {', '.join(TIME_UNITS)}",
            value=repr(unit),
            allowed=list(TIME_UNITS),
        )
    amount = entry.get("limit")
    allowed_amount = f"a positive number of {unit} up to {MAX_AMOUNT}"
    # bool is an int subclass in Python, but "limit = true" is a typo
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise _fail(
            source, code, "limit", f"{amount!r} is not allowed; allowed: {allowed_amount}", value=repr(amount)
        )
    if not math.isfinite(amount) or not 0 < amount <= MAX_AMOUNT:
        raise _fail(
            source, code, "limit", f"{amount!r} is not allowed; allowed: {allowed_amount}", value=repr(amount)
        )

    filing = _text(entry, "filing", source, code, "the filing conditions (立案条件) as Chinese text")
    closing = _text(entry, "closing", source, code, "the closing conditions (结案条件) as Chinese text")

    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise _fail(
            source, code, "aliases", f"{aliases!r} is not allowed; allowed: a list of non-empty strings"
        )
    demand = entry.get("demand", False)
    if not isinstance(demand, bool):
        raise _fail(
            source, code, "demand", f"{demand!r} is not allowed; allowed: true or false", value=repr(demand)
        )

    return Category(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        owner=owner,
        time_limit=TimeLimit(amount, unit),
        filing=filing,
        closing=closing,
        aliases=tuple(dict.fromkeys(a.strip() for a in aliases)),
        demand=demand,
    )
