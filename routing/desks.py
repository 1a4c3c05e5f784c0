"""Desks: the units and departments that own cases, their keys and their chains.

A *desk* is where a case sits and who answers for it.  It is one of

* a unit of the boundary set, keyed by its 12-digit code (``370902002000`` 财源街道);
  the short codes people use (``370902`` 泰山区, ``370902002`` 财源街道) are read as
  their 12-digit form (:mod:`boundaries.codes`), which is the key kept;
* a city department, keyed ``city:<name>`` (``city:园林局``);
* a department of a district (or subdistrict), keyed ``<unit code>:<name>``
  (``370902000000:城管局``, named 泰山区城管局).

Departments are data (``routing/departments.toml``, or ``SIJI_DEPARTMENTS_PATH``):
:class:`Departments` lists them per level and is checked against the catalog when the
service starts, so a category can only name a department that exists, and a key
naming one that does not is refused with the known ones listed.

Every desk has a *chain*: its key and every unit above it, nearest first.  A
department sits directly below its unit (a city department below the city).  The
chain decides who may act on a case (its owner's chain), whom it escalates to, and
which supervisors see its audit entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boundaries.codes import ALLOWED, AmbiguousCodeError, as_given, full_code
from geo.errors import InvalidInputError
from geo.levels import LEVEL_KEYS
from routing._toml import read_toml
from routing.errors import DepartmentsDataError, UnknownDeskError

if TYPE_CHECKING:
    from geo.index import JurisdictionIndex
    from routing.catalog import Catalog, Category

DEPARTMENT_LEVELS: tuple[str, ...] = ("city", "district", "subdistrict")
"""Levels that may have departments (a community has none)."""
CITY_PREFIX = "city:"


@dataclass(frozen=True, slots=True)
class Departments:
    """The departments of each level, as the departments file lists them.

    Examples
    --------
    >>> d = Departments.from_dict({"city": {"departments": ["园林局"]},
    ...                            "district": {"departments": ["城管局"]}})
    >>> d.names("district"), d.names("subdistrict")
    (('城管局',), ())
    """

    by_level: Mapping[str, tuple[str, ...]]
    source: str = "<Departments>"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Departments:
        """Build from the parsed TOML structure (see ``departments.toml``)."""
        unknown = sorted(set(data) - {"schema", *DEPARTMENT_LEVELS})
        if unknown:
            raise DepartmentsDataError(
                f"{source}: unknown table {unknown[0]!r}; allowed: schema, {', '.join(DEPARTMENT_LEVELS)}",
                file=source,
                field=unknown[0],
            )
        if data.get("schema", 1) != 1:
            raise DepartmentsDataError(
                f"{source}: field 'schema': {data.get('schema')!r} is not supported; allowed: 1",
                file=source,
                field="schema",
            )
        by_level: dict[str, tuple[str, ...]] = {}
        for level in DEPARTMENT_LEVELS:
            table = data.get(level, {"departments": []})
            names = table.get("departments") if isinstance(table, dict) else None
            if not isinstance(names, list) or set(table) - {"departments"}:
                raise DepartmentsDataError(
                    f"{source}: [{level}] must be a table with one field, departments = [names]",
                    file=source,
                    field=level,
                )
            for name in names:
                if not isinstance(name, str) or not name.strip() or ":" in name or name != name.strip():
                    raise DepartmentsDataError(
                        f"{source}: [{level}] department {name!r} is not allowed; allowed: a non-empty "
                        "name without ':' or surrounding spaces, e.g. '城管局'",
                        file=source,
                        field=level,
                        value=repr(name),
                    )
            if len(set(names)) != len(names):
                twice = next(n for n in names if names.count(n) > 1)
                raise DepartmentsDataError(
                    f"{source}: [{level}] lists {twice!r} twice; allowed: each department once",
                    file=source,
                    field=level,
                    value=twice,
                )
            by_level[level] = tuple(names)
        return cls(by_level, source)

    def names(self, level: str) -> tuple[str, ...]:
        """The departments of ``level`` (none for a level without any)."""
        return self.by_level.get(level, ())

    def check_catalog(self, catalog: Catalog) -> None:
        """Raise :class:`DepartmentsDataError` for a category owned by an unknown department.

        Examples
        --------
        >>> from routing.catalog import default_catalog
        >>> default_departments().check_catalog(default_catalog())
        """
        for category in catalog:
            owner = category.owner
            if owner.department is not None and owner.department not in self.names(owner.level):
                raise DepartmentsDataError(
                    f"{catalog.source}: category {category.code} is owned by {owner.key!r}, but "
                    f"{self.source} has no {owner.level} department {owner.department!r}; known: "
                    f"{', '.join(self.names(owner.level)) or 'none'} (add it to the departments file)",
                    file=self.source,
                    code=category.code,
                    value=owner.key,
                    allowed=list(self.names(owner.level)),
                )


def load_departments(path: str | Path | None = None) -> Departments:
    """Load and validate a departments file; ``None`` loads the packaged ``routing/departments.toml``.

    Examples
    --------
    >>> load_departments().names("city")
    ('城管局', '园林局', '住建局', '交警支队', '民政局')
    """
    data, source = read_toml(
        path, resource="departments.toml", error=DepartmentsDataError, what="departments"
    )
    return Departments.from_dict(data, source=source)


@lru_cache(maxsize=1)
def default_departments() -> Departments:
    """The packaged departments, loaded once."""
    return load_departments()


@dataclass(frozen=True, slots=True)
class Desk:
    """A desk that can own a case.

    Attributes
    ----------
    key : str
        A unit code, ``city:<department>`` or ``<unit code>:<department>``.
    level : str
        The level of the unit (a department has its unit's level).
    name : str
        As shown to people: 财源街道, 泰山区城管局, 园林局.
    chain : tuple of str
        ``key`` and every unit above it, nearest first.
    note : str
        Why a report was routed here, when it is not the obvious desk.
    """

    key: str
    level: str
    name: str
    chain: tuple[str, ...]
    note: str = ""

    @property
    def above(self) -> tuple[str, ...]:
        """The units above the desk, nearest first."""
        return self.chain[1:]


class Desks:
    """Desk keys resolved against one boundary index and the departments.

    Parameters
    ----------
    index : JurisdictionIndex or None
        The active boundary set; without one only city departments resolve.
    departments : Departments
    """

    def __init__(self, index: JurisdictionIndex | None, departments: Departments) -> None:
        self.index = index
        self.departments = departments

    @cached_property
    def city_code(self) -> str | None:
        """The code of the city (the boundary set's unit of rank 0)."""
        if self.index is None:
            return None
        cities = self.index.units.codes[self.index.units.ranks == 0]
        return str(cities[0]) if len(cities) else None

    def unit_chain(self, code: str) -> tuple[str, ...] | None:
        """A unit code and every unit above it, or ``None`` when the set has no such unit."""
        if self.index is None:
            return None
        units = self.index.units
        row = units.row_of_code.get(code)
        if row is None:
            return None
        chain = [code]
        while int(units.parents[row]) >= 0:
            row = int(units.parents[row])
            chain.append(str(units.codes[row]))
        return tuple(chain)

    def chain(self, key: str | None) -> tuple[str, ...]:
        """The chain of any key a token may hold, by its form alone (departments unchecked).

        Used for the scope of a caller, where a key that resolves to nothing must not
        fail: it then reaches only itself.

        Examples
        --------
        >>> Desks(None, default_departments()).chain("city:园林局")
        ('city:园林局',)
        """
        if not key:
            return ()
        unit, separator, _ = key.partition(":")
        if separator and unit == "city":
            return (key, *((self.city_code,) if self.city_code else ()))
        if separator:
            return (key, *(self.unit_chain(unit) or ()))
        return self.unit_chain(key) or (key,)

    def level_of(self, key: str | None) -> str | None:
        """The level of a key's unit (a department has its unit's level); ``None`` if unknown."""
        if not key:
            return None
        unit, separator, _ = key.partition(":")
        if separator and unit == "city":
            return "city"
        if self.index is None:
            return None
        row = self.index.units.row_of_code.get(unit)
        return None if row is None else LEVEL_KEYS[int(self.index.units.ranks[row])]

    def get(self, key: str, *, field: str = "unit") -> Desk:
        """The desk of ``key``.

        Raises
        ------
        UnknownDeskError
            A unit code not in the active boundary set, an unknown department (naming
            the known ones), or a department key without its unit (``district:城管局``).
        """
        unit, separator, department = key.partition(":")
        if not separator:
            return self._unit(key, field)
        if unit == "city":
            return self._department("city", self.city_code, department, key, field)
        if unit in LEVEL_KEYS:
            raise UnknownDeskError(
                f"{field} {key!r}: a {unit} department is keyed by its {unit}'s code, e.g. "
                f"{self._example(unit, department)}; known {unit} departments: "
                f"{', '.join(self.departments.names(unit)) or 'none'}",
                field=field,
                value=key,
            )
        desk = self._unit(unit, field)
        return self._department(desk.level, desk.key, department, f"{desk.key}:{department}", field, desk)

    def route(self, category: Category, answer: Mapping[str, Any]) -> Desk:
        """The desk a report of ``category`` at a located point goes to.

        The category names the owning level (and maybe a department).  When the point's
        unit at that level is missing (a gap in the boundary set), the report goes to
        the finest unit above it, and the note says so.

        Examples
        --------
        >>> from routing.catalog import default_catalog
        >>> desks = Desks(None, default_departments())
        >>> answer = {"city": {"code": "C", "name": "泰安市"}, "district": {"code": "D", "name": "泰山区"},
        ...           "subdistrict": {"code": "S", "name": "财源街道"}, "community": None}
        >>> desk = desks.route(default_catalog().get("S-04-04"), answer)
        >>> desk.key, desk.chain, desk.note
        ('S', ('S', 'D', 'C'), 'no community unit covers the point; routed to its subdistrict')
        >>> desk = desks.route(default_catalog().get("B-01-01"), answer)
        >>> desk.key, desk.name, desk.chain
        ('D:城管局', '泰山区城管局', ('D:城管局', 'D', 'C'))
        """
        owner = category.owner
        if owner.level == "city":
            key = f"{CITY_PREFIX}{owner.department}"
            city = answer.get("city")
            return Desk(
                key, "city", str(owner.department), (key, *(() if city is None else (str(city["code"]),)))
            )
        rank = LEVEL_KEYS.index(owner.level)
        for r in range(rank, -1, -1):
            unit = answer.get(LEVEL_KEYS[r])
            if unit is None:
                continue
            chain = tuple(str(answer[up]["code"]) for up in reversed(LEVEL_KEYS[: r + 1]) if answer.get(up))
            if r != rank:
                note = f"no {owner.level} unit covers the point; routed to its {LEVEL_KEYS[r]}"
                return Desk(str(unit["code"]), LEVEL_KEYS[r], str(unit["name"]), chain, note)
            if owner.department is None:
                return Desk(str(unit["code"]), owner.level, str(unit["name"]), chain)
            key = f"{unit['code']}:{owner.department}"
            return Desk(key, owner.level, f"{unit['name']}{owner.department}", (key, *chain))
        raise InvalidInputError("the point is in no unit of the boundary set", field="location")

    # ------------------------------------------------------------------ helpers
    def _unit(self, given: str, field: str) -> Desk:
        code = self._full_code(given, field)
        chain = self.unit_chain(code)
        if chain is None or self.index is None:
            raise UnknownDeskError(
                f"{field}: unit code {as_given(given, code)} is not in the active boundary set, nor a "
                f"department key (city:<name> or <unit code>:<name>); allowed: {ALLOWED}",
                field=field,
                value=given,
            )
        row = self.index.units.row_of_code[code]
        level = LEVEL_KEYS[int(self.index.units.ranks[row])]
        return Desk(code, level, str(self.index.units.names[row]), chain)

    def _full_code(self, code: str, field: str) -> str:
        """The 12-digit code of a 12-, 9- or 6-digit one (:func:`boundaries.codes.full_code`)."""
        if self.index is None:
            return code
        try:
            return full_code(code, self.index.units.row_of_code)
        except AmbiguousCodeError as exc:
            raise UnknownDeskError(f"{field}: {exc.message}", field=field, value=code) from exc

    def _department(
        self,
        level: str,
        unit_code: str | None,
        department: str,
        key: str,
        field: str,
        unit: Desk | None = None,
    ) -> Desk:
        known = self.departments.names(level)
        if department not in known:
            listed = ", ".join(self._example(level, name, unit_code) for name in known) or "none"
            raise UnknownDeskError(
                f"{field} {key!r}: {department!r} is not a {level} department; known: {listed} "
                f"(departments are listed in {self.departments.source})",
                field=field,
                value=key,
                allowed=[self._example(level, name, unit_code) for name in known],
            )
        if level == "city":
            return Desk(key, "city", department, (key, *((unit_code,) if unit_code else ())))
        assert unit is not None
        return Desk(key, level, f"{unit.name}{department}", (key, *unit.chain))

    def _example(self, level: str, department: str, unit_code: str | None = None) -> str:
        if level == "city":
            return f"{CITY_PREFIX}{department}"
        if unit_code is None and self.index is not None:
            codes = self.index.units.codes[self.index.units.ranks == LEVEL_KEYS.index(level)]
            unit_code = str(codes[0]) if len(codes) else None
        return f"{unit_code or '<' + level + ' code>'}:{department}"
