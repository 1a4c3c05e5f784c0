"""Coordinate reference systems that reach a Chinese city-management service.

Four names plus any EPSG code are accepted:

``wgs84``
    EPSG:4326, what GPS devices and patrol terminals send.
``cgcs2000``
    EPSG:4490, China's national datum.  It differs from WGS84 by well under a metre,
    so siji treats it as WGS84, as the national mapping authority does for
    city-scale work.
``gcj02``
    The obfuscated "Mars" coordinates of Amap, Tencent and WeChat (100-700 m off).
``bd09``
    Baidu's further-obfuscated coordinates.
``EPSG:NNNN`` (or ``epsg:nnnn``, or the bare number)
    Any CRS PROJ knows, transformed with pyproj.

GCJ-02 and BD-09 are not geodetic CRSs and PROJ does not implement them.  No
maintained, vectorized library on PyPI does either (the packages there are scalar,
unmaintained loops), so the published formulas are implemented here over numpy
arrays; the inverse is solved by fixed-point iteration to better than 1e-9 degrees
(0.1 mm).  The tests check both directions against the public-domain ``prcoords``
reference implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.errors import UnknownCRSError

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike, NDArray

    FloatArray = NDArray[np.float64]
    _Conversion = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

NAMED_CRS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")
_GEOGRAPHIC_WGS84_EPSG = frozenset({4326, 4490})


@dataclass(frozen=True, slots=True)
class CRS:
    """A parsed input CRS.

    Attributes
    ----------
    name : str
        Canonical name: ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:NNNN``.
    epsg : int or None
        The EPSG code for geodetic CRSs, None for the obfuscated ones.
    """

    name: str
    epsg: int | None
    is_wgs84: bool = field(init=False, repr=False, compare=False)
    """True when coordinates need no transformation (WGS84 or CGCS2000).  A field, not
    a property: single lookups read it on every request."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_wgs84", self.epsg in _GEOGRAPHIC_WGS84_EPSG)

    @property
    def is_geographic(self) -> bool:
        """True when coordinates are longitude/latitude degrees."""
        if self.epsg is None or self.is_wgs84:
            return True
        return bool(_pyproj_crs(self.epsg).is_geographic)

    def __str__(self) -> str:
        return self.name


WGS84 = CRS("wgs84", 4326)
GCJ02 = CRS("gcj02", None)
BD09 = CRS("bd09", None)


def parse_crs(value: str | int | CRS | None) -> CRS:
    """Parse a CRS given by name or EPSG code.

    Parameters
    ----------
    value : str, int, CRS or None
        ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:4547``, ``4547`` ...
        None means WGS84.

    Raises
    ------
    UnknownCRSError
        Naming the value and the allowed forms.

    Examples
    --------
    >>> parse_crs("cgcs2000").is_wgs84
    True
    >>> parse_crs("EPSG:4547").name
    'EPSG:4547'
    """
    if isinstance(value, CRS):  # before the cache: hashing a CRS costs more than this
        return value
    return _parse_crs(value)


@lru_cache(maxsize=256)
def _parse_crs(value: str | int | None) -> CRS:
    if value is None:
        return WGS84
    text = str(value).strip().lower()
    if not text.removeprefix("epsg:").lstrip("+-").replace("_", "").isdigit():
        # Separators are tolerated in names (gcj-02, wgs_84), never in EPSG codes.
        text = text.replace("-", "").replace("_", "")
    if text in ("wgs84", "epsg:4326", "4326"):
        return WGS84
    if text in ("cgcs2000", "epsg:4490", "4490"):
        return CRS("cgcs2000", 4490)
    if text in ("gcj02", "gcj", "mars", "amap"):
        return GCJ02
    if text in ("bd09", "bd09ll", "baidu"):
        return BD09
    digits = text.removeprefix("epsg:")
    if digits.isdigit():
        code = int(digits)
        try:
            _pyproj_crs(code)
        except Exception as exc:
            raise UnknownCRSError(
                f"unknown CRS {value!r}: EPSG:{code} is not known to PROJ",
                field="crs",
                value=str(value),
                allowed=[*NAMED_CRS, "EPSG:<code>"],
            ) from exc
        return CRS(f"EPSG:{code}", code)
    raise UnknownCRSError(
        f"unknown CRS {value!r}; allowed: {', '.join(NAMED_CRS)} or EPSG:<code>",
        field="crs",
        value=str(value),
        allowed=[*NAMED_CRS, "EPSG:<code>"],
    )


@lru_cache(maxsize=64)
def _pyproj_crs(epsg: int) -> Any:
    import pyproj

    return pyproj.CRS.from_epsg(epsg)


@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def to_wgs84(x: ArrayLike, y: ArrayLike, crs: str | int | CRS | None) -> tuple[FloatArray, FloatArray]:
    """Transform coordinates to WGS84 longitude/latitude.

    Parameters
    ----------
    x, y : array_like
        Easting/longitude and northing/latitude in ``crs`` (x first, always).
    crs : str, int or CRS
        See :func:`parse_crs`.

    Returns
    -------
    lon, lat : ndarray of float64

    Examples
    --------
    >>> lon, lat = to_wgs84([117.135], [36.195], "gcj02")
    >>> bool(abs(lon[0] - 117.1295) < 0.001)
    True
    """
    return _transform(x, y, parse_crs(crs), towards_wgs84=True)


def point_to_wgs84(x: float, y: float, crs: str | int | CRS | None) -> tuple[float, float]:
    """:func:`to_wgs84` for one finite point, in floats (the single-lookup hot path).

    Examples
    --------
    >>> point_to_wgs84(117.135, 36.195, "wgs84")
    (117.135, 36.195)
    >>> lon, lat = point_to_wgs84(117.135, 36.195, "gcj02")
    >>> bool(abs(lon - 117.1295) < 0.001)
    True
    """
    parsed = parse_crs(crs)
    if parsed.is_wgs84:
        return float(x), float(y)
    if parsed == GCJ02:
        return _gcj02_to_wgs84_point(float(x), float(y))
    lon, lat = to_wgs84([x], [y], parsed)
    return float(lon[0]), float(lat[0])


def require_lonlat_frame(frame_crs: Any) -> None:
    """Refuse a boundary frame whose CRS (a pyproj CRS, or None: taken as EPSG:4326) is not
    WGS84 longitude/latitude (EPSG:4490 is the same to a metre), naming both CRSs.

    Examples
    --------
    >>> require_lonlat_frame(None)
    >>> import pyproj
    >>> from geo.errors import CRSMismatchError
    >>> try:
    ...     require_lonlat_frame(pyproj.CRS.from_epsg(3857))
    ... except CRSMismatchError as exc:
    ...     print(str(exc).split(";")[0])
    the boundary frame is in EPSG:3857 but the index needs EPSG:4326
    """
    from geo.errors import CRSMismatchError

    if frame_crs is not None and frame_crs.to_epsg() not in _GEOGRAPHIC_WGS84_EPSG:
        raise CRSMismatchError(
            f"the boundary frame is in {frame_crs.to_string()} but the index needs EPSG:4326; "
            "reproject it with frame.to_crs(4326)",
            frame_crs=frame_crs.to_string(),
            expected_crs="EPSG:4326",
        )


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | int | CRS | None) -> tuple[FloatArray, FloatArray]:
    """Transform WGS84 longitude/latitude into ``crs`` (the inverse of :func:`to_wgs84`)."""
    return _transform(lon, lat, parse_crs(crs), towards_wgs84=False)


def _transform(
    a: ArrayLike, b: ArrayLike, parsed: CRS, *, towards_wgs84: bool
) -> tuple[FloatArray, FloatArray]:
    """Coordinates in ``parsed`` to WGS84, or back: the obfuscated CRSs by their formulas
    (:data:`_OBFUSCATED`), every EPSG CRS by pyproj."""
    aa = np.asarray(a, dtype=np.float64)
    ba = np.asarray(b, dtype=np.float64)
    if parsed.is_wgs84:
        return aa, ba
    formulas = _OBFUSCATED.get(parsed.name)
    if formulas is not None:
        return formulas[0 if towards_wgs84 else 1](aa, ba)
    assert parsed.epsg is not None
    source, target = (parsed.epsg, 4326) if towards_wgs84 else (4326, parsed.epsg)
    u, v = _transformer(source, target).transform(aa, ba)
    return np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)


# --- GCJ-02 ------------------------------------------------------------------------
# Krasovsky 1940 ellipsoid parameters used by the published GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323


def _in_china(lon: Any, lat: Any) -> Any:
    # The offset is applied only inside this rectangle; outside it GCJ-02 == WGS84.
    # Arrays or floats (``&`` of two bools is a bool).
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_delta(lon, lat, np)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _gcj_delta(lon: Any, lat: Any, xp: Any) -> tuple[Any, Any]:
    """The published GCJ-02 offset formula, for arrays (``xp=np``) or floats (``math``)."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = xp.sqrt(abs(x))
    six_pi_x = xp.sin(6.0 * x * xp.pi) * 20.0 + xp.sin(2.0 * x * xp.pi) * 20.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += six_pi_x * 2.0 / 3.0
    dlat += (xp.sin(y * xp.pi) * 20.0 + xp.sin(y / 3.0 * xp.pi) * 40.0) * 2.0 / 3.0
    dlat += (xp.sin(y / 12.0 * xp.pi) * 160.0 + xp.sin(y * xp.pi / 30.0) * 320.0) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += six_pi_x * 2.0 / 3.0
    dlon += (xp.sin(x * xp.pi) * 20.0 + xp.sin(x / 3.0 * xp.pi) * 40.0) * 2.0 / 3.0
    dlon += (xp.sin(x / 12.0 * xp.pi) * 150.0 + xp.sin(x / 30.0 * xp.pi) * 300.0) * 2.0 / 3.0
    rad_lat = lat / 180.0 * xp.pi
    magic = 1.0 - _EE * xp.sin(rad_lat) ** 2
    sqrt_magic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * xp.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * xp.cos(rad_lat) * xp.pi)
    return dlon, dlat


def _gcj02_to_wgs84_point(lon: float, lat: float) -> tuple[float, float]:
    """:func:`gcj02_to_wgs84` for one finite point, in floats (no array overhead)."""
    if not _in_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        dlon, dlat = _gcj_delta(wlon, wlat, math) if _in_china(wlon, wlat) else (0.0, 0.0)
        elon, elat = wlon + dlon - lon, wlat + dlat - lat
        wlon -= elon
        wlat -= elat
        if not max(abs(elon), abs(elat)) > 1e-10:
            break
    return wlon, wlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Obfuscate WGS84 coordinates to GCJ-02 (the published forward formula)."""
    lona = np.asarray(lon, dtype=np.float64)
    lata = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _gcj_offset(lona, lata)
    return lona + dlon, lata + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Recover WGS84 from GCJ-02 by fixed-point iteration (error < 1e-9 degrees)."""
    glon = np.asarray(lon, dtype=np.float64)
    glat = np.asarray(lat, dtype=np.float64)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon -= elon
        wlat -= elat
        with np.errstate(invalid="ignore"):
            worst = max(np.nanmax(np.abs(elon), initial=0.0), np.nanmax(np.abs(elat), initial=0.0))
        if not worst > 1e-10:
            break
    return wlon, wlat


# --- BD-09 -------------------------------------------------------------------------
_X_PI = np.pi * 3000.0 / 180.0


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Obfuscate GCJ-02 coordinates further to Baidu's BD-09."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Recover GCJ-02 from BD-09 (closed-form inverse, refined by iteration)."""
    bx = np.asarray(lon, dtype=np.float64)
    by = np.asarray(lat, dtype=np.float64)
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    # The textbook inverse is only accurate to ~1e-6 degrees; polish it.
    for _ in range(5):
        fx, fy = gcj02_to_bd09(gx, gy)
        gx -= fx - bx
        gy -= fy - by
    return gx, gy


def _bd09_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _wgs84_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_OBFUSCATED: dict[str, tuple[_Conversion, _Conversion]] = {
    GCJ02.name: (gcj02_to_wgs84, wgs84_to_gcj02),
    BD09.name: (_bd09_to_wgs84, _wgs84_to_bd09),
}
"""The CRSs without an EPSG code: name -> (to WGS84, from WGS84)."""
