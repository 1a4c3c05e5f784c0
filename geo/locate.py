"""Look up points given in any supported CRS, with input checks.

:func:`locate` is the batch entry point: rows with unusable coordinates are kept,
get status ``invalid`` and a reason; :func:`locate_point` is the single-point entry
point and raises instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geo.coords import coordinate_problems, usable
from geo.crs import CRS, parse_crs, to_wgs84
from geo.errors import InvalidCoordinateError, SwappedAxesError
from geo.index import BOUNDARY, GAP, INVALID, OK, OUTSIDE, Locator, LookupResult

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
        problems[i] = (
            f"({float(xa[i])!r}, {float(ya[i])!r}) is out of range for {parsed}: it has no WGS84 position"
        )
        bad[i] = True
    lon = np.where(bad, np.nan, lon)
    lat = np.where(bad, np.nan, lat)
    result = index.lookup(np.where(bad, 0.0, lon), np.where(bad, 0.0, lat), threads=threads)
    suspects = np.flatnonzero(bad | (result.status == OUTSIDE))
    swapped = _swapped(index, xa[suspects], ya[suspects], parsed)
    for i in suspects[swapped]:
        xi, yi = float(xa[i]), float(ya[i])  # plain floats: numpy 2 reprs read np.float64(...)
        problems[i] = (
            f"coordinates ({xi!r}, {yi!r}) look swapped: the point is outside the boundary set "
            f"but ({yi!r}, {xi!r}) is inside; give longitude (x) first, then latitude (y)"
        )
    invalid = bad.copy()
    invalid[suspects[swapped]] = True
    if invalid.any():
        _mark_invalid(result, invalid)
        result.errors = problems
    return result


def locate_point(index: Locator, x: float, y: float, crs: str | int | CRS | None = None) -> dict[str, Any]:
    """Look up one point and return the JSON-ready answer.

    Raises
    ------
    InvalidCoordinateError
        NaN, infinite or out-of-range coordinates, naming the value and the range.
    SwappedAxesError
        The point is outside the set but its axis swap is inside.
    """
    result = locate(index, [x], [y], crs, threads=1)
    if result.status[0] == INVALID:
        assert result.errors is not None
        message = str(result.errors[0])
        error = SwappedAxesError if "swapped" in message else InvalidCoordinateError
        raise error(message, x=x, y=y, crs=str(parse_crs(crs)))
    return result.record(0)


def _swapped(index: Locator, x: NDArray[np.float64], y: NDArray[np.float64], crs: CRS) -> NDArray[np.bool_]:
    """True where ``(y, x)`` is a valid point covered by the set."""
    if len(x) == 0 or not crs.is_geographic:
        return np.zeros(len(x), dtype=bool)
    ok = usable(y, x, crs)
    lon, lat = to_wgs84(np.where(ok, y, 0.0), np.where(ok, x, 0.0), crs)
    status = index.lookup(lon, lat, threads=1).status
    return ok & np.isin(status, [OK, BOUNDARY, GAP])


def _mark_invalid(result: LookupResult, invalid: NDArray[np.bool_]) -> None:
    result.status[invalid] = INVALID
    result.unit_rows[invalid] = -1
    result.distance_m[invalid] = np.nan
    sizes = np.diff(result.candidate_offsets)
    keep = np.repeat(~invalid, sizes)
    sizes[invalid] = 0
    result.candidate_rows = result.candidate_rows[keep]
    result.candidate_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
