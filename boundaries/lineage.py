"""Lineage between two boundary sets, from their geometry: which old unit became which
new one, with the share of area each way and a kind.

Every old unit that overlaps a new one of the same level is linked to it, and every
new unit to each old one it overlaps, when the overlap holds at least
:data:`MIN_SHARE` of either unit's area (shared edges drawn a little differently
leave slivers far below that).  The kind of a link follows from the shares:

============  ========================================================================
kind          when
============  ========================================================================
same          the same code, name and polygon
renamed       the same code and polygon, another name
reshaped      the same code, or a part of one unit passed to another (a strip moved
              between neighbours): the unit's area changed by more than
              :data:`RESHAPE_SHARE`
re-coded      another code, the same place: each holds at least half of the other
merged        the new unit took at least half of each of two or more old units
split         the old unit gave at least half of each of two or more new units
============  ========================================================================

Merged and split are read first, whatever the codes, so a merge that keeps one of the
old codes links both old units as ``merged``.  A set may also declare predecessors
(:data:`DECLARED_FIELDS`, a list of codes): a declared pair is linked even where the
polygons do not overlap, its ``how`` is ``declared``.

Only units that differ are intersected: a unit with exactly the same polygon in both
sets is linked at once, under the same code or another (the bundled set against
itself: 3,877 links in about 50 ms; against the issue's release with 595 re-coded
units, 50 ms instead of 480 ms).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray

KINDS = ("same", "renamed", "reshaped", "re-coded", "merged", "split")
MIN_SHARE = 0.01
"""Overlaps holding less than this share of both units' areas are not links."""
RESHAPE_SHARE = 0.01
"""A unit whose area changed by more than this share is reshaped."""
MAJOR_SHARE = 0.5
"""The share that makes a part the main part of a unit (for re-coded, merged, split)."""
DECLARED_FIELDS = ("predecessors", "predecessor_code")
"""Columns a set may declare predecessors in: codes separated by ``;``, ``,`` or
spaces, or a JSON list (``["370902002001", "370902002002"]``)."""


@dataclass(frozen=True, slots=True)
class Link:
    """One old unit → one new unit.

    Attributes
    ----------
    old_share : float
        The share of the old unit's area that lies in the new one (0..1).
    new_share : float
        The share of the new unit's area that came from the old one (0..1).
    how : str
        ``geometry`` (found by the overlap) or ``declared`` (named by the new set).
    """

    old_code: str
    new_code: str
    level: str
    kind: str
    old_share: float
    new_share: float
    old_name: str
    new_name: str
    how: str = "geometry"

    def as_dict(self) -> dict[str, Any]:
        """The link as a plain dict."""
        return asdict(self)


def declared_predecessors(value: Any) -> list[str]:
    """The codes of a declared-predecessors value, in order.

    Examples
    --------
    >>> declared_predecessors("370902002001; 370902002002")
    ['370902002001', '370902002002']
    >>> declared_predecessors('["370921000000"]'), declared_predecessors(None)
    (['370921000000'], [])
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(text) if str(v).strip()]
        except (ValueError, TypeError):
            pass
    return [part for part in re.split(r"[;,\s]+", text) if part]


def lineage(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> list[Link]:
    """Links from every old unit to the new units that continue it.

    Parameters
    ----------
    old, new : GeoDataFrame
        Normalized boundary frames (``code``, ``name``, ``level``, geometry in
        EPSG:4326); ``new`` may have a :data:`DECLARED_FIELDS` column.

    Returns
    -------
    list of Link
        Ordered by level, old code, new code.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> def units(rows):
    ...     return gpd.GeoDataFrame([r[:3] for r in rows], columns=["code", "name", "level"],
    ...                             geometry=[r[3] for r in rows], crs=4326)
    >>> old = units([("A", "a", "community", box(0, 0, 1, 1)), ("B", "b", "community", box(1, 0, 2, 1))])
    >>> new = units([("AB", "ab", "community", box(0, 0, 2, 1))])
    >>> [(k.old_code, k.new_code, k.kind, k.old_share, k.new_share) for k in lineage(old, new)]
    [('A', 'AB', 'merged', 1.0, 0.5), ('B', 'AB', 'merged', 1.0, 0.5)]
    """
    old_codes = old["code"].astype(str).to_numpy()
    new_codes = new["code"].astype(str).to_numpy()
    old_geoms = _multi(np.asarray(old.geometry.values, dtype=object))
    new_geoms = _multi(np.asarray(new.geometry.values, dtype=object))
    old_row = {code: i for i, code in enumerate(old_codes)}
    pairs: dict[tuple[int, int], tuple[float, float, str]] = {}
    # Units that did not move at all: the same code and exactly the same polygon.
    same = np.array([old_row.get(code, -1) for code in new_codes], dtype=np.int64)
    candidates = np.flatnonzero(same >= 0)
    exact = candidates[shapely.equals_exact(old_geoms[same[candidates]], new_geoms[candidates], 0)]
    for n in exact:
        pairs[(int(same[n]), int(n))] = (1.0, 1.0, "geometry")
    changed_old = np.setdiff1d(np.arange(len(old_codes)), same[exact])
    changed_new = np.setdiff1d(np.arange(len(new_codes)), exact)
    # Units that kept their polygon under another code (a re-coded district and all below it).
    moved_old, moved_new = _same_polygon(old_geoms, new_geoms, changed_old, changed_new)
    pairs.update(
        {(int(o), int(n)): (1.0, 1.0, "geometry") for o, n in zip(moved_old, moved_new, strict=True)}
    )
    changed_old = np.setdiff1d(changed_old, moved_old)
    changed_new = np.setdiff1d(changed_new, moved_new)
    old_levels = old["level"].astype(str).to_numpy()
    new_levels = new["level"].astype(str).to_numpy()
    pairs.update(_overlaps(old_geoms, new_geoms, changed_old, changed_new, old_levels, new_levels))
    for n, o in _declared(new, old_row):
        if old_levels[o] == new_levels[n]:
            shares = pairs.get((o, n), (0.0, 0.0, "geometry"))
            pairs[(o, n)] = (shares[0], shares[1], "declared")
    old_names = old["name"].astype(str).to_numpy()
    new_names = new["name"].astype(str).to_numpy()
    kinds = _kinds(pairs, old_codes, new_codes, old_names, new_names)
    links = [
        Link(
            old_code=str(old_codes[o]),
            new_code=str(new_codes[n]),
            level=str(new_levels[n]),
            kind=kinds[(o, n)],
            old_share=round(old_share, 4),
            new_share=round(new_share, 4),
            old_name=str(old_names[o]),
            new_name=str(new_names[n]),
            how=how,
        )
        for (o, n), (old_share, new_share, how) in pairs.items()
    ]
    order = {level: rank for rank, level in enumerate(("city", "district", "subdistrict", "community"))}
    return sorted(links, key=lambda k: (order.get(k.level, 9), k.old_code, k.new_code))


def _multi(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Polygons as one-part MultiPolygons (as the store keeps them), normalized (ring
    orientation and start: a shapefile turns rings clockwise), so that the same polygon
    compares equal whichever way it was written and read."""
    out = geoms.copy()
    polygons = shapely.get_type_id(out) == 3
    if polygons.any():
        out[polygons] = shapely.multipolygons(out[polygons][:, None].tolist())
    return shapely.normalize(out)


def _same_polygon(
    old_geoms: NDArray[np.object_],
    new_geoms: NDArray[np.object_],
    changed_old: NDArray[np.int64],
    changed_new: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(old rows, new rows) of changed units whose polygons are exactly the same."""
    by_wkb: dict[bytes, int] = {}
    for o, wkb in zip(changed_old, shapely.to_wkb(old_geoms[changed_old]), strict=True):
        by_wkb.setdefault(wkb, int(o))
    matched = [
        (by_wkb[wkb], int(n))
        for n, wkb in zip(changed_new, shapely.to_wkb(new_geoms[changed_new]), strict=True)
        if wkb in by_wkb
    ]
    if not matched:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    old_rows, new_rows = (np.asarray(side, dtype=np.int64) for side in zip(*matched, strict=True))
    return old_rows, new_rows


def _overlaps(
    old_geoms: NDArray[np.object_],
    new_geoms: NDArray[np.object_],
    changed_old: NDArray[np.int64],
    changed_new: NDArray[np.int64],
    old_levels: NDArray[np.object_],
    new_levels: NDArray[np.object_],
) -> dict[tuple[int, int], tuple[float, float, str]]:
    """Shares of the overlaps between changed old and changed new units of one level."""
    if not len(changed_old) or not len(changed_new):
        return {}
    tree = shapely.STRtree(old_geoms[changed_old])
    new_index, old_index = tree.query(new_geoms[changed_new])
    o, n = changed_old[old_index], changed_new[new_index]
    keep = old_levels[o] == new_levels[n]
    o, n = o[keep], n[keep]
    # Areas in square degrees: the shares are ratios within a few km, where the
    # scale of a degree does not change.
    shared = shapely.area(shapely.intersection(old_geoms[o], new_geoms[n]))
    old_share = shared / shapely.area(old_geoms[o])
    new_share = shared / shapely.area(new_geoms[n])
    linked = (old_share >= MIN_SHARE) | (new_share >= MIN_SHARE)
    return {
        (int(a), int(b)): (float(s), float(t), "geometry")
        for a, b, s, t in zip(o[linked], n[linked], old_share[linked], new_share[linked], strict=True)
    }


def _declared(new: gpd.GeoDataFrame, old_row: dict[str, int]) -> list[tuple[int, int]]:
    """(new row, old row) of every declared predecessor that the old set has."""
    out = []
    for column in DECLARED_FIELDS:
        if column not in new.columns:
            continue
        for n, value in enumerate(new[column].tolist()):
            out += [(n, old_row[code]) for code in declared_predecessors(value) if code in old_row]
    return out


def unknown_declared(new: gpd.GeoDataFrame, old: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    """(new code, declared code) of declared predecessors the old set does not have."""
    old_codes = set(old["code"].astype(str))
    out = []
    for column in DECLARED_FIELDS:
        if column in new.columns:
            for code, value in zip(new["code"].astype(str), new[column].tolist(), strict=True):
                out += [(code, p) for p in declared_predecessors(value) if p not in old_codes]
    return out


def _kinds(
    pairs: dict[tuple[int, int], tuple[float, float, str]],
    old_codes: NDArray[np.object_],
    new_codes: NDArray[np.object_],
    old_names: NDArray[np.object_],
    new_names: NDArray[np.object_],
) -> dict[tuple[int, int], str]:
    # A new unit that took most of two or more old units is a merge; an old unit that
    # gave most of two or more new units was split.
    took_most: dict[int, int] = {}
    gave_most: dict[int, int] = {}
    for (o, n), (old_share, new_share, _) in pairs.items():
        if old_share >= MAJOR_SHARE:
            took_most[n] = took_most.get(n, 0) + 1
        if new_share >= MAJOR_SHARE:
            gave_most[o] = gave_most.get(o, 0) + 1
    kinds = {}
    for (o, n), (old_share, new_share, _) in pairs.items():
        moved = 1 - min(old_share, new_share) > RESHAPE_SHARE
        if took_most.get(n, 0) > 1 and old_share >= MAJOR_SHARE:
            kind = "merged"
        elif gave_most.get(o, 0) > 1 and new_share >= MAJOR_SHARE:
            kind = "split"
        elif old_codes[o] == new_codes[n]:
            kind = "reshaped" if moved else ("same" if old_names[o] == new_names[n] else "renamed")
        elif old_share >= MAJOR_SHARE and new_share >= MAJOR_SHARE:
            kind = "re-coded"
        else:
            kind = "reshaped"  # a part of one unit passed to another
        kinds[(o, n)] = kind
    return kinds
