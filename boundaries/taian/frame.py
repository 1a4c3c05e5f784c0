"""The generator's shared frame: array types, parameters, the 1e-7 degree output grid,
the local km plane, and outlines densified on the grid without moving them."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
DEFAULT_OUT = HERE / "data" / "taian_2023.parquet"
DISTRICTS_FILE = "taian_districts_tianditu_cgcs2000.geojson"
DIVISIONS_FILE = "taian_divisions_2023_nbs.csv"
PLACES_FILE = "taian_places_geonames_wgs84.geojson"

CITY_CODE = "370900000000"
COLUMNS = ["code", "name", "level", "parent_code", "synthetic", "geometry"]
LEVELS = {2: "city", 3: "district", 4: "subdistrict", 5: "community"}
EXPECTED_COUNTS = {"city": 1, "district": 6, "subdistrict": 88, "community": 3782}

# Every output coordinate lies on this grid (1e-7 degree, about 1 cm).
GRID_SCALE = 10_000_000
# Downstream tests rely on this point (Tai'an centre) lying well inside an urban
# 社区 of an urban 街道 of 泰山区.
PROBE_LONLAT = (117.13, 36.19)
PROBE_DISTRICT = "370902000000"
PROBE_CLEARANCE_DEG = 2e-4

# Local equirectangular frame (km). Sites, power diagram, spacing and noise are
# computed in it, so cells are not stretched east-west by the ~0.8 cos(latitude)
# factor.
LON0, LAT0 = 117.0, 36.0
KM_PER_DEG = 111.195
KX = math.cos(math.radians(LAT0))

# District seats: a GeoNames place (asciiname) where the district has one.
SEAT_PLACES = {
    "370921": "Ningyang",
    "370923": "Dongping",
    "370982": "Xintai",
    "370983": "Feicheng",
}
# 泰山区: the Tai'an city centre that downstream tests use. GeoNames' "Tai'an"
# point (117.120, 36.185) lies 1 km WSW of it, in the same urban core.
# 岱岳区 has no GeoNames place. Its government and urban 街道 (粥店/天平) lie
# west of the Tai'an urban area, just outside 泰山区.
SEAT_OVERRIDES = {"370902": PROBE_LONLAT, "370911": (117.05, 36.18)}

# Lines are bent with midpoint displacement down to 2**MAX_DEPTH segments.
MAX_DEPTH = 7
HURST = 0.75
# If a bent edge leaves its corridor, it is retried at these noise scales; the last
# one (0.0) is the straight edge.
NOISE_SCALES = (1.0, 0.5, 0.25, 0.0)
MAX_ATTEMPTS = 12
# A boundary hit may be pushed at most this many vertices past its nearest one.
MAX_SNAP_SHIFT = 2

# Room of a village (村委会) relative to a residents' community (社区/居委会).
VILLAGE_AREA_RATIO = 6.0
# Number of weight updates when fitting the power diagram to the target areas.
WEIGHT_STEPS = 50
# Fraction of a Newton step taken per weight update.
NEWTON_FRACTION = 0.75
# Initial discs are packed at this fraction of their target radius.
PACKING = 0.85


@dataclass(frozen=True)
class LevelStyle:
    """Shape parameters of one synthetic level.

    Attributes
    ----------
    spacing_km
        Target vertex spacing along a synthetic edge.
    amplitude
        Standard deviation of the first midpoint displacement, as a fraction of
        the edge length.
    size_jitter
        Standard deviation of the lognormal factor on each target area.
    radial_growth
        Rural children near the centre get ``1 - g/2`` of the average room, and
        the farthest get ``1 + g/2``.
    """

    spacing_km: float
    amplitude: float
    size_jitter: float
    radial_growth: float


TOWNSHIP_STYLE = LevelStyle(spacing_km=0.15, amplitude=0.10, size_jitter=0.15, radial_growth=0.0)
VILLAGE_STYLE = LevelStyle(spacing_km=0.045, amplitude=0.11, size_jitter=0.3, radial_growth=0.6)


class PartitionError(RuntimeError):
    """One attempt at partitioning a parent polygon failed; retry with new sites."""


@dataclass(frozen=True)
class Partition:
    """The children of one parent, in the order they were requested."""

    geoms: list[BaseGeometry]
    anchors: FloatArray  # (n, 2) lon/lat of a point well inside each child's cell


# ----------------------------------------------------------------------------
# coordinates
# ----------------------------------------------------------------------------


def to_grid(xy: FloatArray) -> FloatArray:
    """Round lon/lat to the 1e-7 degree output grid."""
    return np.round(xy * GRID_SCALE) / GRID_SCALE


def to_km(lonlat: FloatArray) -> FloatArray:
    """Convert lon/lat degrees to the local km frame."""
    out = np.empty_like(lonlat, dtype=np.float64)
    out[..., 0] = (lonlat[..., 0] - LON0) * KX * KM_PER_DEG
    out[..., 1] = (lonlat[..., 1] - LAT0) * KM_PER_DEG
    return out


def to_lonlat(km: FloatArray) -> FloatArray:
    """Convert the local km frame back to lon/lat degrees."""
    out = np.empty_like(km, dtype=np.float64)
    out[..., 0] = km[..., 0] / (KX * KM_PER_DEG) + LON0
    out[..., 1] = km[..., 1] / KM_PER_DEG + LAT0
    return out


def unit_rng(seed: int, code: str) -> np.random.Generator:
    """Give each parent unit its own stream.

    Changing one unit then leaves the others alone, and the processing order
    does not matter.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, int(code)]))


def _divisors(value: int) -> list[int]:
    """Return the divisors of a positive integer in ascending order."""
    small = [d for d in range(1, math.isqrt(value) + 1) if value % d == 0]
    return sorted(set(small + [value // d for d in small]))


def _lattice_points(a: tuple[int, int], b: tuple[int, int], target_km: float) -> list[tuple[int, int]]:
    """Return grid points strictly inside segment ``ab`` and exactly on it.

    The points are computed from the lexicographically smaller end, so both
    neighbouring districts insert the same integers into their shared edge.
    """
    lo, hi = (a, b) if a <= b else (b, a)
    dx, dy = hi[0] - lo[0], hi[1] - lo[1]
    common = math.gcd(abs(dx), abs(dy))
    if common < 2:
        return []
    length_km = math.hypot(dx * KX, dy) / GRID_SCALE * KM_PER_DEG
    wanted = math.ceil(length_km / target_km)
    # Split into n pieces with n dividing gcd(dx, dy): only those points are exact.
    pieces = next((d for d in _divisors(common) if d >= wanted), common)
    step = (dx // pieces, dy // pieces)
    points = [(lo[0] + k * step[0], lo[1] + k * step[1]) for k in range(1, pieces)]
    return points if a <= b else points[::-1]


def _densify_ring(ring: FloatArray, target_km: float) -> FloatArray:
    """Insert exact on-segment grid points into a closed ring (lon/lat)."""
    ints = [(int(x), int(y)) for x, y in np.round(ring * GRID_SCALE).astype(np.int64)]
    out: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(ints):
        out.append(a)
        out.extend(_lattice_points(a, b, target_km))
    out.append(ints[-1])
    return np.asarray(out, dtype=np.float64) / GRID_SCALE


def densify_outline(geom: BaseGeometry, target_km: float = 0.15) -> BaseGeometry:
    """Add collinear grid vertices to a real outline without moving it.

    The coarse Tianditu segments are 1.5 km long on median. That leaves
    synthetic edges too few places to end, since they may only end on existing
    outline vertices. The added points lie exactly on the original segments, at
    1/n steps where n divides gcd(dx, dy) on the 1e-7 grid. The outline is
    therefore the same point set up to float rounding (about 1e-14 degree).

    Parameters
    ----------
    geom
        Polygon or MultiPolygon on the 1e-7 grid.
    target_km
        Desired spacing of the added vertices.

    Returns
    -------
    BaseGeometry
        The densified polygon. It is a Polygon when the input has one part.
    """
    polygons = []
    for part in shapely.get_parts(geom):
        shell = _densify_ring(shapely.get_coordinates(part.exterior), target_km)
        holes = [_densify_ring(shapely.get_coordinates(r), target_km) for r in part.interiors]
        polygons.append(shapely.Polygon(shell, holes))
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
