"""Checks on input coordinates: finite, in range for their CRS.

Batch inputs get one reason per row (None where the row is fine) so that bad rows are
kept and reported, never dropped; single points raise.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from geo.crs import CRS, parse_crs
from geo.errors import InvalidCoordinateError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


def coordinate_problems(
    x: ArrayLike, y: ArrayLike, crs: str | int | CRS | None = None
) -> NDArray[np.object_]:
    """Return, for each point, why its coordinates are unusable, or None.

    Parameters
    ----------
    x, y : array_like
        Longitude/easting and latitude/northing.
    crs : str, int or CRS
        The CRS the coordinates are in; ranges are checked for geographic CRSs.

    Returns
    -------
    ndarray of object
        None for good points, otherwise a message naming the value and the range.

    Examples
    --------
    >>> coordinate_problems([117.1, float("nan"), 200.0], [36.2, 36.2, 36.2]).tolist()[0] is None
    True
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    problems = np.full(xa.shape, None, dtype=object)
    geographic = parse_crs(crs).is_geographic
    for idx in np.flatnonzero(~usable(xa, ya, crs)):
        problems[idx] = _describe(float(xa[idx]), float(ya[idx]), geographic)
    return problems


def usable(x: ArrayLike, y: ArrayLike, crs: str | int | CRS | None = None) -> NDArray[np.bool_]:
    """True where coordinates are finite and, for geographic CRSs, in range.

    The vectorized yes/no behind :func:`coordinate_problems`, for hot paths that need
    no message.

    Examples
    --------
    >>> usable([117.1, float("nan"), 200.0], [36.2, 36.2, 36.2]).tolist()
    [True, False, False]
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if parse_crs(crs).is_geographic:
        with np.errstate(invalid="ignore"):
            ok &= (xa >= -180.0) & (xa <= 180.0) & (ya >= -90.0) & (ya <= 90.0)
    return ok


def _describe(x: float, y: float, geographic: bool) -> str:
    xname, yname = ("lon", "lat") if geographic else ("x", "y")
    anything = "any finite number"
    xrange, yrange = ("-180..180 degrees", "-90..90 degrees") if geographic else (anything, anything)
    if not np.isfinite(x):
        return f"{xname}={x!r} is not a finite number; allowed {xrange}"
    if not np.isfinite(y):
        return f"{yname}={y!r} is not a finite number; allowed {yrange}"
    if not -180.0 <= x <= 180.0:
        return f"lon={x!r} is out of range; allowed -180..180 degrees"
    return f"lat={y!r} is out of range; allowed -90..90 degrees"


def check_point(x: float, y: float, crs: str | int | CRS | None = None) -> None:
    """Raise :class:`InvalidCoordinateError` if one point is unusable.

    Examples
    --------
    >>> check_point(117.13, 36.19)
    >>> check_point(117.13, 95.0)
    Traceback (most recent call last):
    ...
    geo.errors.InvalidCoordinateError: lat=95.0 is out of range; allowed -90..90 degrees
    """
    problem = point_problem(x, y, crs)
    if problem is not None:
        raise InvalidCoordinateError(problem, x=x, y=y, crs=str(parse_crs(crs)))


def point_problem(x: float, y: float, crs: str | int | CRS | None = None) -> str | None:
    """Why one point's coordinates are unusable, or None: :func:`coordinate_problems`
    for a single point, without array overhead (the single-lookup hot path).

    Examples
    --------
    >>> point_problem(117.13, 36.19) is None
    True
    >>> point_problem(float("inf"), 36.19)
    'lon=inf is not a finite number; allowed -180..180 degrees'
    """
    parsed = parse_crs(crs)
    return None if point_usable(x, y, parsed) else _describe(float(x), float(y), parsed.is_geographic)


def point_usable(x: float, y: float, crs: str | int | CRS | None = None) -> bool:
    """Whether one point's coordinates are usable: :func:`point_problem` without the words.

    Examples
    --------
    >>> point_usable(117.13, 36.19), point_usable(117.13, 95.0), point_usable(500000.0, 95.0, 4547)
    (True, False, True)
    """
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    return not parse_crs(crs).is_geographic or (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0)
