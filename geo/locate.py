"""Look up points given in any supported CRS, with input checks.

:func:`locate` is the batch entry point: rows with unusable coordinates are kept,
get status ``invalid`` and a reason; :func:`locate_point` is the single-point entry
point and raises instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.coords import coordinate_problems, point_problem, point_usable, usable
from geo.crs import CRS, parse_crs, point_to_wgs84, to_wgs84
from geo.errors import InvalidCoordinateError, SwappedAxesError
from geo.index import BOUNDARY, GAP, INVALID, OK, OUTSIDE, JurisdictionIndex, Locator, LookupResult

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


def locate(
    index: Locator,
    x: ArrayLike,
    y: ArrayLike,
    crs: str | int | CRS | None = None,
    *,
    threads: int | None = None,
) -> LookupResult:
    """Look up a batch of points in ``crs``.

    Rows whose coordinates are NaN, infinite or out of range, and rows whose axes look
    swapped (the point is outside the set but ``(y, x)`` is inside), get status
    ``invalid`` and a reason in ``errors``; they are never dropped or guessed.

    Examples
    --------
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> locate(index, [117.5, 36.5, float("nan")], [36.5, 117.5, 1.0]).status_names().tolist()
    ['ok', 'invalid', 'invalid']
    """
    parsed = parse_crs(crs)
    xa = np.ascontiguousarray(x, dtype=np.float64).ravel()
    ya = np.ascontiguousarray(y, dtype=np.float64).ravel()
    problems = coordinate_problems(xa, ya, parsed)
    bad = ~usable(xa, ya, parsed)
    lon, lat = to_wgs84(np.where(bad, 0.0, xa), np.where(bad, 0.0, ya), parsed)
    # Finite input that PROJ cannot transform (outside the CRS's domain) comes back inf.
    for i in np.flatnonzero(~bad & ~(np.isfinite(lon) & np.isfinite(lat))):
        problems[i] = _no_position(float(xa[i]), float(ya[i]), parsed)
        bad[i] = True
    lon = np.where(bad, np.nan, lon)
    lat = np.where(bad, np.nan, lat)
    result = index.lookup(np.where(bad, 0.0, lon), np.where(bad, 0.0, lat), threads=threads)
    suspects = np.flatnonzero(bad | (result.status == OUTSIDE))
    swapped = _swapped(index, xa[suspects], ya[suspects], parsed)
    for i in suspects[swapped]:
        # plain floats: numpy 2 reprs read np.float64(...)
        problems[i] = _swap_message(float(xa[i]), float(ya[i]))
    invalid = bad.copy()
    invalid[suspects[swapped]] = True
    if invalid.any():
        _mark_invalid(result, invalid)
        result.errors = problems
    return result


def locate_point(index: Locator, x: float, y: float, crs: str | int | CRS | None = None) -> dict[str, Any]:
    """Look up one point and return the JSON-ready answer.

    The same checks and answer as :func:`locate` for a batch of one, on floats.

    Raises
    ------
    InvalidCoordinateError
        NaN, infinite or out-of-range coordinates, naming the value and the range.
    SwappedAxesError
        The point is outside the set but its axis swap is inside.

    Examples
    --------
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> locate_point(index, 117.5, 36.5)["status"]
    'ok'
    """
    return point_answer(index, resolve_point(index, x, y, crs), x, y, crs)


def point_answer(
    index: Locator,
    found: tuple[int, list[int]] | None,
    x: float,
    y: float,
    crs: str | int | CRS | None = None,
) -> dict[str, Any]:
    """:func:`locate_point`'s answer, given what :func:`resolve_point` found for the same
    point: a caller that has resolved it already does not resolve it again.

    Raises as :func:`locate_point` does.

    Examples
    --------
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> point_answer(index, resolve_point(index, 117.5, 36.5), 117.5, 36.5)["city"]
    {'code': 'C', 'name': 'c'}
    """
    # Most points are covered at the finest level: answered without arrays.
    if found is not None:
        row, shared = found
        return index.units.answer(row, BOUNDARY if shared else OK, shared)
    parsed = parse_crs(crs)
    x, y = float(x), float(y)
    problem = point_problem(x, y, parsed)
    if problem is None:
        lon, lat = point_to_wgs84(x, y, parsed)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            problem = _no_position(x, y, parsed)
    if problem is None:
        result = index.lookup([lon], [lat], threads=1)
        if result.status[0] != OUTSIDE:
            return result.record(0)
    # Unusable or outside: as in a batch, a swap that lands inside explains both.
    if _swapped(index, np.array([x]), np.array([y]), parsed)[0]:
        raise SwappedAxesError(_swap_message(x, y), x=x, y=y, crs=str(parsed))
    if problem is not None:
        raise InvalidCoordinateError(problem, x=x, y=y, crs=str(parsed))
    return result.record(0)


def resolve_point(
    index: Locator, x: float, y: float, crs: str | int | CRS | None = None
) -> tuple[int, list[int]] | None:
    """(unit row, covering rows when several) of a usable point in ``crs`` that a unit
    of the finest level covers; None for any other point (:func:`locate_point` answers
    those, or says what is wrong with them).

    The single-request hot path: floats only, no arrays, no answer built.

    Examples
    --------
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> resolve_point(index, 117.5, 36.5), resolve_point(index, float("nan"), 36.5)
    ((0, []), None)
    """
    if not isinstance(index, JurisdictionIndex):
        return None
    parsed = parse_crs(crs)
    x, y = float(x), float(y)
    if parsed.is_wgs84:
        # No transform: resolve_one answers None for NaN, out-of-range and outside points
        # alike (none is inside its grid), and locate_point then says which it is.
        return index.resolve_one(x, y)
    if not point_usable(x, y, parsed):
        return None
    lon, lat = point_to_wgs84(x, y, parsed)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    return index.resolve_one(lon, lat)


_SWAP_MARGIN = 0.1  # degrees: more than any offset between the geographic CRSs read here


def swap_box(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The box a point's swapped coordinates must fall in for the point to be taken as
    swapped: the set's ``bounds`` grown by 0.1 degrees (more than GCJ-02 or BD-09
    moves a point).  Outside it, the swap check needs no lookup.

    Examples
    --------
    >>> swap_box((117.0, 36.0, 118.0, 37.0))
    (116.9, 35.9, 118.1, 37.1)
    """
    minx, miny, maxx, maxy = bounds
    return minx - _SWAP_MARGIN, miny - _SWAP_MARGIN, maxx + _SWAP_MARGIN, maxy + _SWAP_MARGIN


def _no_position(x: float, y: float, crs: CRS) -> str:
    return f"({x!r}, {y!r}) is out of range for {crs}: it has no WGS84 position"


def _swap_message(x: float, y: float) -> str:
    return (
        f"coordinates ({x!r}, {y!r}) look swapped: the point is outside the boundary set "
        f"but ({y!r}, {x!r}) is inside; give longitude (x) first, then latitude (y)"
    )


def _swapped(index: Locator, x: NDArray[np.float64], y: NDArray[np.float64], crs: CRS) -> NDArray[np.bool_]:
    """True where ``(y, x)`` is a valid point covered by the set."""
    swapped = np.zeros(len(x), dtype=bool)
    if len(x) == 0 or not crs.is_geographic:
        return swapped
    ok = usable(y, x, crs)
    bounds = getattr(index, "bounds", None)
    if bounds is not None:
        # The set's bounds first: nearly every point outside the set stays outside it
        # when swapped, and a comparison is all that costs (the margin covers the
        # few metres a GCJ-02 or BD-09 point moves on its way to WGS84).
        minx, miny, maxx, maxy = swap_box(bounds)
        with np.errstate(invalid="ignore"):
            ok &= (y >= minx) & (y <= maxx) & (x >= miny) & (x <= maxy)
    test = np.flatnonzero(ok)
    if len(test) == 0:
        return swapped
    lon, lat = to_wgs84(y[test], x[test], crs)
    status = index.lookup(lon, lat, threads=1).status
    swapped[test] = np.isin(status, [OK, BOUNDARY, GAP])
    return swapped


def _mark_invalid(result: LookupResult, invalid: NDArray[np.bool_]) -> None:
    result.status[invalid] = INVALID
    result.unit_rows[invalid] = -1
    result.distance_m[invalid] = np.nan
    sizes = np.diff(result.candidate_offsets)
    keep = np.repeat(~invalid, sizes)
    sizes[invalid] = 0
    result.candidate_rows = result.candidate_rows[keep]
    result.candidate_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
