"""Checks for any importer of a polygon layer (boundary sets, and the green-space
register alike): the fields a file must have, and coordinates whose size contradicts
their CRS.  Each refuses with a message that names the value, both readings or the
file's fields, and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from geo.crs import CRS
from geo.errors import BoundaryDataError

#: Longest field name a shapefile's DBF keeps; GDAL cuts longer ones (``parent_code``
#: is stored as ``parent_cod``), and :func:`require_fields` finds them by the cut name.
DBF_FIELD_CHARS = 10

__all__ = ["DBF_FIELD_CHARS", "check_coordinate_units", "require_fields", "which"]


def require_fields(
    columns: Sequence[str], wanted: Mapping[str, str], source: str, *, fmt: str | None = None
) -> dict[str, str]:
    """The file's field for each role an importer needs; refuse a missing one by name.

    A shapefile keeps field names of at most :data:`DBF_FIELD_CHARS` characters, so there
    a wanted name is also found by its cut form (``parent_code`` as ``parent_cod``): a
    file written by ``siji boundaries export`` reads back unchanged.

    Parameters
    ----------
    columns : sequence of str
        The file's fields (without the geometry).
    wanted : mapping of role to field name
        e.g. ``{"code": "adcode", "parent code": "sj"}``.
    source : str
        The file's name, for the message.
    fmt : str, optional
        The file's format (``Shapefile`` turns the cut-name rule on).

    Raises
    ------
    BoundaryDataError
        Naming every missing field and its role, the fields the file has, and a close
        match where there is one.

    Examples
    --------
    >>> require_fields(["code", "name", "parent_cod"], {"code": "code", "parent code": "parent_code"},
    ...                "b.shp", fmt="Shapefile")
    {'code': 'code', 'parent code': 'parent_cod'}
    >>> require_fields(["CODE", "mc"], {"code": "code", "name": "name"}, "b.gpkg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.errors.BoundaryDataError: 'b.gpkg' has no field 'code' (the code; did you mean 'CODE'?), ...
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    available = [str(c) for c in columns]
    for role, name in wanted.items():
        if name in available:
            found[role] = name
        elif fmt == "Shapefile" and len(name) > DBF_FIELD_CHARS and name[:DBF_FIELD_CHARS] in available:
            found[role] = name[:DBF_FIELD_CHARS]
        else:
            close = difflib.get_close_matches(name, available, n=1, cutoff=0.6) or [
                c for c in available if c.lower() == name.lower()
            ]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            missing.append(f"no field {name!r} (the {role}{hint})")
    if missing:
        raise BoundaryDataError(
            f"{source!r} has {', '.join(missing)}; the file has: {', '.join(available) or 'no fields'}",
            path=source,
            missing=[wanted[role] for role in wanted if role not in found],
            available=available,
        )
    return found


def check_coordinate_units(geometries: Any, crs: CRS | Any, source: str) -> None:
    """Refuse coordinates whose size contradicts their CRS, naming both readings.

    Degrees in a projected CRS (a file in longitude/latitude given ``--crs EPSG:4548``)
    would be read as a few metres near the projection's origin; metres in a geographic
    CRS fall outside -180..180 / -90..90.  Either is a wrong CRS, never a real set.
    (A geographic file with swapped axes is left to the range check after conversion,
    which says so.)

    Parameters
    ----------
    geometries : array of shapely geometries
        In ``crs``, finite (checked before).
    crs : geo.crs.CRS or pyproj.CRS
        The CRS the coordinates are read in.
    source : str
        The file's name, for the message.

    Raises
    ------
    BoundaryDataError

    Examples
    --------
    >>> from shapely import box
    >>> from geo.crs import parse_crs
    >>> check_coordinate_units([box(117.0, 36.0, 117.2, 36.1)], parse_crs("wgs84"), "b.gpkg")
    >>> check_coordinate_units([box(117.0, 36.0, 117.2, 36.1)], parse_crs("EPSG:4548"), "b.gpkg")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.errors.BoundaryDataError: 'b.gpkg': the coordinates look like degrees ... but EPSG:4548 ...
    """
    bounds = shapely.total_bounds(np.asarray(geometries, dtype=object))
    if not np.isfinite(bounds).all():
        return
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    pyproj_crs, name = _pyproj_and_name(crs)
    geographic = bool(pyproj_crs.is_geographic) if pyproj_crs is not None else True
    in_degrees = max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90
    as_degrees = _as_degrees_reading(minx, miny, maxx, maxy)
    extent = f"x {minx:,.6g}..{maxx:,.6g}, y {miny:,.6g}..{maxy:,.6g}"
    if not geographic and in_degrees:
        as_metres = _as_metres_reading(pyproj_crs, minx, miny, maxx, maxy, name)
        raise BoundaryDataError(
            f"{source!r}: the coordinates look like degrees ({extent}) "
            f"but {name} is a projected CRS, in metres. {as_metres}; {as_degrees}. Give the CRS the file is "
            "really in (--crs wgs84, cgcs2000, gcj02 or bd09), or reproject the file first",
            path=source,
            crs=name,
            bounds=[minx, miny, maxx, maxy],
        )
    swapped = max(abs(minx), abs(maxx)) <= 90 and max(abs(miny), abs(maxy)) <= 180
    if geographic and not in_degrees and not swapped:
        raise BoundaryDataError(
            f"{source!r}: the coordinates cannot be degrees ({extent} "
            f"is outside longitude -180..180 / latitude -90..90) although {name} is a geographic CRS. "
            f"Read as metres they are {_size_in_metres(maxx - minx, maxy - miny)}, as in a projected CRS"
            f"{_projected_hint(minx, maxx, miny)}: give it (--crs EPSG:<code>)",
            path=source,
            crs=name,
            bounds=[minx, miny, maxx, maxy],
        )


def _size_in_metres(width: float, height: float) -> str:
    """``a set 18.0 km wide and 11.1 km tall`` (metres below 10 km; a single point says so).

    Examples
    --------
    >>> _size_in_metres(18_000.0, 11_100.0), _size_in_metres(350.0, 0.0), _size_in_metres(0.0, 0.0)
    ('a set 18.0 km wide and 11.1 km tall', 'a set 350 m wide and 0 m tall', 'a single point')
    """
    if width == 0 and height == 0:
        return "a single point"
    if max(width, height) < 10_000:
        return f"a set {width:,.0f} m wide and {height:,.0f} m tall"
    return f"a set {width / 1000:,.1f} km wide and {height / 1000:,.1f} km tall"


def _pyproj_and_name(crs: CRS | Any) -> tuple[Any, str]:
    import pyproj

    if isinstance(crs, CRS):
        if crs.epsg is None:  # GCJ-02 / BD-09: longitude/latitude, no pyproj CRS
            return None, crs.name
        return pyproj.CRS.from_epsg(crs.epsg), crs.name
    epsg = crs.to_epsg()
    return crs, f"EPSG:{epsg}" if epsg is not None else crs.name


def _as_degrees_reading(minx: float, miny: float, maxx: float, maxy: float) -> str:
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    width = geod.inv(minx, (miny + maxy) / 2, maxx, (miny + maxy) / 2)[2] / 1000
    height = geod.inv(minx, miny, minx, maxy)[2] / 1000
    return (
        f"read as degrees they are a set {width:,.1f} km wide and {height:,.1f} km tall "
        f"at longitude {minx:.4f}..{maxx:.4f}, latitude {miny:.4f}..{maxy:.4f}"
    )


def _as_metres_reading(crs: Any, minx: float, miny: float, maxx: float, maxy: float, name: str) -> str:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform([minx, maxx], [miny, maxy])
    return (
        f"Read in {name} they are a set {maxx - minx:,.2f} m wide and {maxy - miny:,.2f} m tall "
        f"at longitude {min(lon):.4f}..{max(lon):.4f}, latitude {min(lat):.4f}..{max(lat):.4f}"
    )


def _projected_hint(minx: float, maxx: float, miny: float) -> str:
    """The CGCS2000 Gauss-Kruger CRS that x values with a zone number in front point to."""
    zone = int(minx // 1_000_000)
    if minx >= 1e7 and int(maxx // 1_000_000) == zone:
        prefix = f" (the x values carry zone number {zone}: CGCS2000 / "
        if 25 <= zone <= 45:
            return f"{prefix}3-degree Gauss-Kruger zone {zone}, EPSG:{4513 + zone - 25})"
        if 13 <= zone <= 23:
            return f"{prefix}Gauss-Kruger zone {zone}, EPSG:{4491 + zone - 13})"
    if minx > 0 and maxx < 1_000_000 and miny > 0:
        return (
            " (x near 500,000 m: a Gauss-Kruger CRS without zone number, such as "
            "CGCS2000 / 3-degree Gauss-Kruger CM 117E, EPSG:4548)"
        )
    return ""


def which(noun: str, labels: list[Any], singular: str, plural: str) -> str:
    """``feature '370911' has`` or ``features '370902', '370911' have`` (ten at most shown).

    Examples
    --------
    >>> which("feature", ["370911"], "has", "have"), which("unit", ["a", "b"], "is", "are")
    ("feature '370911' has", "units 'a', 'b' are")
    """
    shown = ", ".join(repr(str(label)) for label in labels[:10])
    more = f" and {len(labels) - 10:,} more" if len(labels) > 10 else ""
    if len(labels) == 1:
        return f"{noun} {shown} {singular}"
    return f"{noun}s {shown}{more} {plural}"
