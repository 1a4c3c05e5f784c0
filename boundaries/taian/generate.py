"""Generate the bundled Tai'an (泰安市) demo boundary set.

The set has four levels: city (市) → district/county (区/县) → subdistrict/township
(街道/乡镇) → community/village (社区/村). Every row carries its real NBS 2023 code,
name and parent code. The city and the 6 district outlines are real (Tianditu). Every
polygon below district level is synthetic: it is a seeded, irregular partition of its
parent that

* tiles the parent exactly: siblings share vertex-identical edges, with no gaps
  and no overlaps, and the union of the children is the parent, vertex for vertex;
* puts urban 街道 and 社区 small and dense around the district seat, and rural
  镇/乡 and 村 larger elsewhere;
* keeps every coordinate on a 1e-7 degree grid, so the same seed gives
  byte-identical geometry.

How it works, per parent polygon:

1. Every child gets a target area: a 村 gets ``VILLAGE_AREA_RATIO`` times the
   room of a 社区 (half that inside a 街道), and a township gets the sum of its
   children's areas. One site per child is placed by greedy disc packing outward
   from the seat, urban children first. Power-diagram (weighted Voronoi) weights
   are then fitted to the target areas on Monte-Carlo samples.
2. The exact power diagram is built. Its ridges are clipped to the parent, and
   each ridge end that meets the parent boundary is snapped to an existing parent
   vertex. This is why we never add vertices to the parent.
3. Each ridge is bent once with midpoint-displacement noise. The bent ridge stays
   inside its "kite" (ridge ends plus the two cell anchors), so no two ridges
   cross. Everything is rounded to the grid.
4. The bent ridges and the untouched parent rings are polygonized, and each face
   goes to the anchor it contains.

Run::

    python -m boundaries.taian.generate [--seed 2023] [--out PATH]
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
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
class Sources:
    """The reference inputs, read from ``source/``."""

    districts: gpd.GeoDataFrame  # code (12-digit), name, geometry
    divisions: pd.DataFrame  # the NBS csv, all columns as str
    seats: dict[str, tuple[float, float]]  # district code12 -> seat lon/lat


@dataclass(frozen=True)
class Partition:
    """The children of one parent, in the order they were requested."""

    geoms: list[BaseGeometry]
    anchors: FloatArray  # (n, 2) lon/lat of a point well inside each child's cell


# ----------------------------------------------------------------------------
# coordinates
# ----------------------------------------------------------------------------


def _to_grid(xy: FloatArray) -> FloatArray:
    """Round lon/lat to the 1e-7 degree output grid."""
    return np.round(xy * GRID_SCALE) / GRID_SCALE


def _to_km(lonlat: FloatArray) -> FloatArray:
    """Convert lon/lat degrees to the local km frame."""
    out = np.empty_like(lonlat, dtype=np.float64)
    out[..., 0] = (lonlat[..., 0] - LON0) * KX * KM_PER_DEG
    out[..., 1] = (lonlat[..., 1] - LAT0) * KM_PER_DEG
    return out


def _to_lonlat(km: FloatArray) -> FloatArray:
    """Convert the local km frame back to lon/lat degrees."""
    out = np.empty_like(km, dtype=np.float64)
    out[..., 0] = km[..., 0] / (KX * KM_PER_DEG) + LON0
    out[..., 1] = km[..., 1] / KM_PER_DEG + LAT0
    return out


def _unit_rng(seed: int, code: str) -> np.random.Generator:
    """Give each parent unit its own stream.

    Changing one unit then leaves the others alone, and the processing order
    does not matter.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, int(code)]))


# ----------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------


def load_sources(source_dir: Path = SOURCE_DIR) -> Sources:
    """Read districts, NBS divisions and district seats from ``source_dir``.

    Parameters
    ----------
    source_dir
        Folder holding the copied reference files.

    Returns
    -------
    Sources
        Districts snapped to the output grid (they are already on a 1e-6 grid,
        so this is lossless), the NBS table and one seat per district.
    """
    raw = gpd.read_file(source_dir / DISTRICTS_FILE)
    districts = gpd.GeoDataFrame(
        {
            "code": raw["adcode"].astype(str) + "000000",
            "name": raw["name"].astype(str),
        },
        geometry=shapely.transform(raw.geometry.to_numpy(), _to_grid),
        crs="EPSG:4326",  # CGCS2000 is treated as WGS84
    )
    districts = districts.sort_values("code", kind="stable").reset_index(drop=True)
    divisions = pd.read_csv(source_dir / DIVISIONS_FILE, dtype=str, keep_default_na=False)
    places = gpd.read_file(source_dir / PLACES_FILE)
    return Sources(districts, divisions, _district_seats(districts, places))


def _district_seats(districts: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Pick the seat of every district from GeoNames, an override, or the interior."""
    by_name = {
        str(n): (float(g.x), float(g.y)) for n, g in zip(places["asciiname"], places.geometry, strict=True)
    }
    seats: dict[str, tuple[float, float]] = {}
    for code, geom in zip(districts["code"], districts.geometry, strict=True):
        short = str(code)[:6]
        seat = SEAT_OVERRIDES.get(short) or by_name.get(SEAT_PLACES.get(short, ""))
        if seat is None or not geom.contains(shapely.Point(seat)):
            rep = shapely.point_on_surface(geom)
            seat = (float(rep.x), float(rep.y))
        seats[str(code)] = seat
    return seats


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


# ----------------------------------------------------------------------------
# sites: a power diagram fitted to target areas
# ----------------------------------------------------------------------------


def _uniform_points(poly_km: BaseGeometry, count: int, rng: np.random.Generator) -> FloatArray:
    """Draw ``count`` uniform points inside a polygon by rejection from its bbox."""
    xmin, ymin, xmax, ymax = poly_km.bounds
    shapely.prepare(poly_km)
    chunks: list[FloatArray] = []
    found = 0
    while found < count:
        cand = rng.uniform((xmin, ymin), (xmax, ymax), size=(2 * count + 64, 2))
        cand = cand[shapely.contains_xy(poly_km, cand[:, 0], cand[:, 1])]
        chunks.append(cand)
        found += len(cand)
    return np.concatenate(chunks)[:count]


def target_areas(
    sizes: FloatArray, urban: BoolArray, area: float, style: LevelStyle, rng: np.random.Generator
) -> FloatArray:
    """Turn relative sizes into target areas (km²) that sum to the parent's area.

    Rural children get bigger the later their code comes, by up to
    ``radial_growth``. Their codes run outward from the centre (see
    :func:`_initial_sites`), so the rural units nearest the seat are the
    smallest. A lognormal jitter keeps neighbours from looking cloned.
    """
    rural = np.flatnonzero(~urban)
    growth = np.ones(len(sizes))
    if len(rural) > 1:
        growth[rural] = 1.0 + style.radial_growth * (np.arange(len(rural)) / (len(rural) - 1) - 0.5)
    raw = sizes * growth * np.exp(rng.normal(0.0, style.size_jitter, len(sizes)))
    return np.asarray(area * raw / raw.sum())


def _initial_sites(
    samples: FloatArray,
    centre_km: FloatArray,
    targets: FloatArray,
    urban: BoolArray,
    rng: np.random.Generator,
) -> FloatArray:
    """Pack one disc per child greedily outward from the centre; return the disc centres.

    Urban children go first, in code order, and rural children follow. Each
    disc has the child's target area, scaled by ``PACKING``, and takes the
    free sample nearest the centre, plus a random slack of up to one radius.
    So the first urban code (the historic core, e.g. 岱庙街道) sits on the
    seat, the other codes run outward, and the spacing already suits the
    targets. The weights then start near their final values, and the urban
    cluster does not scatter.
    """
    radius = np.sqrt(targets / math.pi)
    dist = np.hypot(*(samples - centre_km).T)
    clearance = np.full(len(samples), np.inf)  # min over placed j of |x - p_j| - PACKING r_j
    sites = np.empty((len(targets), 2))
    for i in np.r_[np.flatnonzero(urban), np.flatnonzero(~urban)]:
        need = PACKING * radius[i]
        while not (clearance >= need).any():  # the parent is full: squeeze
            need *= 0.8
        slack = rng.uniform(0.0, radius[i], len(samples))
        k = int(np.argmin(np.where(clearance >= need, dist + slack, np.inf)))
        sites[i] = samples[k]
        clearance = np.minimum(clearance, np.hypot(*(samples - samples[k]).T) - PACKING * radius[i])
    return sites


def _weight_step(sites: FloatArray, targets: FloatArray) -> FloatArray:
    """Return a stable step size for each weight update.

    Raising w_i by dw moves each ridge of cell i by dw / (2 d_ij). So
    dA_i/dw_i ≈ perimeter / (2 d) ≈ π r_i / d_i, where r_i is the target
    radius and d_i the distance to the nearest site. That is about 1.6 for a
    well-spaced cell but large inside a tight cluster. A damped Newton step
    (``NEWTON_FRACTION``) keeps the Jacobi-style update from oscillating.
    """
    gap = np.hypot(sites[:, None, 0] - sites[None, :, 0], sites[:, None, 1] - sites[None, :, 1])
    np.fill_diagonal(gap, np.inf)
    slope = np.maximum(math.pi * np.sqrt(targets / math.pi) / gap.min(axis=1), 1.0)
    return np.asarray(NEWTON_FRACTION / slope)


def fit_power_diagram(
    poly_km: BaseGeometry,
    targets: FloatArray,
    urban: BoolArray,
    centre_km: FloatArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """Place power sites and fit their weights so that the cells get the target areas.

    The sites are a greedy disc packing around the centre (see
    :func:`_initial_sites`), which already gives compact, well-spaced cells.
    Their weights are then fitted by damped Newton steps on Monte-Carlo cell
    areas. A plain Voronoi diagram cannot do this: it cannot give a 77-unit
    街道 ten times the room of a 7-village 乡 while both sit next to the dense
    urban core. We tried Lloyd moves to the cell centroids: they barely made
    the cells rounder (second moment 0.196 → 0.18), but they made the urban
    cluster drift several radii away from the seat. So the sites stay put.

    Parameters
    ----------
    poly_km
        Parent polygon in the local km frame.
    targets
        Wanted cell areas (km²), one per child, in code order.
    urban
        Urban flags, one per child.
    centre_km
        Centre of the urban core.
    rng
        Random stream of this parent.

    Returns
    -------
    sites, weights
        (n, 2) sites in km and (n,) power weights in km².
    """
    samples = _uniform_points(poly_km, max(4000, 100 * len(targets)), rng)
    sites = _initial_sites(samples, centre_km, targets, urban, rng)
    # The sites are fixed, so the squared distances are computed once.
    dx = samples[:, 0, None] - sites[None, :, 0]
    dy = samples[:, 1, None] - sites[None, :, 1]
    dist2 = dx * dx + dy * dy
    step = _weight_step(sites, targets)
    unit = poly_km.area / len(samples)
    weights = np.zeros(len(targets))
    for _ in range(WEIGHT_STEPS):
        count = np.bincount((dist2 - weights[None, :]).argmin(axis=1), minlength=len(targets))
        weights = weights + step * (targets - count * unit)
    return sites, weights


# ----------------------------------------------------------------------------
# exact power diagram
# ----------------------------------------------------------------------------


def _half_planes(sites: FloatArray, weights: FloatArray, other: int, reach: float) -> GeomArray:
    """Return, as big quads, the half-plane where each site beats site ``other``."""
    d = sites[other] - sites
    dist = np.hypot(d[:, 0], d[:, 1])
    dist[other] = 1.0  # placeholder, that row is not used
    u = d / dist[:, None]
    # The radical line is u·x = c.
    c = ((sites[other] ** 2).sum() - (sites**2).sum(axis=1) - weights[other] + weights) / (2.0 * dist)
    t = np.column_stack([-u[:, 1], u[:, 0]])
    base = c[:, None] * u
    quad = np.stack(
        [
            base + reach * t,
            base - reach * t,
            base - reach * t - 2 * reach * u,
            base + reach * t - 2 * reach * u,
        ],
        axis=1,
    )
    return np.asarray(shapely.polygons(quad))


def power_cells(sites: FloatArray, weights: FloatArray, frame: BaseGeometry) -> GeomArray:
    """Clip the frame by every radical half-plane. This gives one convex cell per site.

    The cost is O(n²) clips, vectorized over the sites. That is cheap here,
    since n ≤ 92.
    """
    xmin, ymin, xmax, ymax = frame.bounds
    reach = 10.0 * math.hypot(xmax - xmin, ymax - ymin) + float(np.abs(sites).max())
    cells = np.full(len(sites), frame, dtype=object)
    for other in range(len(sites)):
        rest = np.arange(len(sites)) != other
        cells[rest] = shapely.intersection(cells[rest], _half_planes(sites, weights, other, reach)[rest])
    return cells


def _power_vertices(sites: FloatArray, weights: FloatArray, triples: IntArray) -> FloatArray:
    """Return the point of equal power of each site triple.

    The triple is sorted before solving. All three cells that meet at a vertex
    then get it bit for bit, and it rounds to one grid node.
    """
    a, b, c = np.sort(triples, axis=1).T
    db, dc = sites[b] - sites[a], sites[c] - sites[a]
    rb = (db**2).sum(axis=1) - (weights[b] - weights[a])
    rc = (dc**2).sum(axis=1) - (weights[c] - weights[a])
    det = 2.0 * (db[:, 0] * dc[:, 1] - db[:, 1] * dc[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.column_stack([(rb * dc[:, 1] - rc * db[:, 1]) / det, (db[:, 0] * rc - dc[:, 0] * rb) / det])
    if not np.isfinite(y).all():
        raise PartitionError("degenerate power vertex")
    return np.asarray(sites[a] + y)


def _cell_neighbours(
    ring: FloatArray, site: int, sites: FloatArray, weights: FloatArray, frame: BaseGeometry
) -> IntArray:
    """Name the site across each edge of a convex cell; -1 means the frame.

    An edge on the radical line of (i, j) is where site j comes closest to
    beating site i, so j is the argmax of power_i - power_j at the edge middle.
    Consecutive edges on the same line are merged, because GEOS may keep a
    collinear vertex.
    """
    mids = 0.5 * (ring[:-1] + ring[1:])
    power = ((mids[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2) - weights[None, :]
    gain = power[:, [site]] - power
    gain[:, site] = -np.inf
    nb = np.asarray(gain.argmax(axis=1), dtype=np.int64)
    xmin, ymin, xmax, ymax = frame.bounds
    gap = np.minimum.reduce([mids[:, 0] - xmin, xmax - mids[:, 0], mids[:, 1] - ymin, ymax - mids[:, 1]])
    nb[gap < 1e-9 * (xmax - xmin)] = -1
    return nb


def power_ridges(
    sites: FloatArray, weights: FloatArray, cells: GeomArray, frame: BaseGeometry
) -> tuple[IntArray, FloatArray]:
    """Return every ridge of the power diagram, with the two sites it separates.

    Parameters
    ----------
    sites, weights
        Power sites (km) and weights (km²).
    cells
        Their convex cells from :func:`power_cells`.
    frame
        Box that holds the parent. Ridge ends on it lie outside the parent.

    Returns
    -------
    pairs, segments
        (R, 2) site indices (sorted) and (R, 2, 2) ridge ends in km.
    """
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()  # membership only; the order comes from ``pairs``
    ends: list[tuple[int, int, int, int, FloatArray, FloatArray]] = []
    for i, cell in enumerate(cells):
        ring = shapely.get_coordinates(cell.exterior)
        nb = _cell_neighbours(ring, i, sites, weights, frame)
        keep = nb != np.roll(nb, 1)
        if not keep.any():
            continue
        first = int(np.argmax(keep))  # rotate so that index 0 starts a run
        nb, corner = np.roll(nb, -first), np.roll(ring[:-1], -first, axis=0)
        keep = np.roll(keep, -first)
        nb, corner = nb[keep], corner[keep]  # corner[a] starts edge a
        for a, j in enumerate(nb):
            prev, nxt = int(nb[a - 1]), int(nb[(a + 1) % len(nb)])
            key = (min(i, int(j)), max(i, int(j)))
            if j < 0 or key in seen:
                continue
            seen.add(key)
            pairs.append(key)
            ends.append((i, int(j), prev, nxt, corner[a], corner[(a + 1) % len(nb)]))
    if not ends:
        raise PartitionError("no power ridges")
    tri_start = np.array([(i, j, p) for i, j, p, _, _, _ in ends])
    tri_end = np.array([(i, j, q) for i, j, _, q, _, _ in ends])
    on_frame_start = tri_start[:, 2] < 0
    on_frame_end = tri_end[:, 2] < 0
    start = np.array([e[4] for e in ends])
    end = np.array([e[5] for e in ends])
    # Corners on the frame are outside the parent, so their exact value does not matter.
    inner_s, inner_e = ~on_frame_start, ~on_frame_end
    if inner_s.any():
        start[inner_s] = _power_vertices(sites, weights, tri_start[inner_s])
    if inner_e.any():
        end[inner_e] = _power_vertices(sites, weights, tri_end[inner_e])
    return np.asarray(pairs, dtype=np.int64), np.stack([start, end], axis=1)


def _anchors(cells_ll: GeomArray, parent: BaseGeometry) -> FloatArray:
    """Return a point inside each cell's largest piece within the parent.

    The anchor stands in for the site: it lies inside its own convex cell,
    which a power site need not. Kites built on anchors therefore still fan
    out without overlapping, and each anchor names the face that holds it.
    We prefer the centroid, since it keeps the kites wide and so leaves room
    to bend the edges. Where a concave parent pushes the centroid out of its
    piece, any interior point will do.
    """
    parts, idx = shapely.get_parts(shapely.intersection(cells_ll, parent), return_index=True)
    parts, idx = parts[shapely.area(parts) > 0], idx[shapely.area(parts) > 0]
    if len(np.unique(idx)) != len(cells_ll):
        raise PartitionError("a power cell misses the parent")
    order = np.lexsort((-shapely.area(parts), idx))
    largest = parts[order][np.r_[True, idx[order][1:] != idx[order][:-1]]]
    centroid = shapely.centroid(largest)
    inside = shapely.contains_properly(largest, centroid)
    return np.asarray(shapely.get_coordinates(np.where(inside, centroid, shapely.point_on_surface(largest))))


# ----------------------------------------------------------------------------
# snapping ridge ends onto the parent boundary
# ----------------------------------------------------------------------------


def _rings(parent: BaseGeometry) -> GeomArray:
    """Return all rings of a (multi)polygon: exterior and interior of each part."""
    rings = []
    for part in shapely.get_parts(parent):
        rings.append(part.exterior)
        rings.extend(part.interiors)
    return np.asarray(rings, dtype=object)


def _snap_to_ring_vertices(points: FloatArray, rings: GeomArray) -> tuple[FloatArray, list[list[int]]]:
    """Move boundary hits onto distinct existing ring vertices, keeping their order.

    The parent is never given new vertices, so its outline stays identical.
    The price is that each hit must move to a vertex. Along each ring the hits
    keep their cyclic order and never share a vertex, so the faces between
    them survive.

    Returns
    -------
    snapped, used
        Snapped lon/lat per point, and the sorted vertex indices used on each ring.
    """
    geoms = shapely.points(points)
    ring_of = np.argmin(shapely.distance(geoms[:, None], rings[None, :]), axis=1)
    snapped = np.empty_like(points)
    used: list[list[int]] = [[] for _ in rings]
    for r, ring in enumerate(rings):
        sel = np.flatnonzero(ring_of == r)
        if not len(sel):
            continue
        xy = shapely.get_coordinates(ring)
        m = len(xy) - 1  # the closing vertex repeats vertex 0
        cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
        pos = shapely.line_locate_point(ring, geoms[sel])
        j = np.clip(np.searchsorted(cum, pos), 1, m)
        nearest = np.where(pos - cum[j - 1] <= cum[j] - pos, j - 1, j)
        order = np.argsort(pos, kind="stable")
        idx = nearest[order].copy()
        for k in range(1, len(idx)):
            idx[k] = max(idx[k], idx[k - 1] + 1)
        # A hit pushed several vertices along by crowded neighbours could drag
        # its edge across theirs. Retry with other sites instead.
        if idx[-1] - idx[0] >= m or np.any(idx - nearest[order] > MAX_SNAP_SHIFT):
            raise PartitionError("boundary hits too crowded for the ring vertices")
        idx %= m
        snapped[sel[order]] = xy[idx]
        used[r] = sorted(int(i) for i in idx)
    return snapped, used


def _ring_pieces(rings: GeomArray, used: list[list[int]]) -> list[BaseGeometry]:
    """Split parent rings at the vertices where ridges end, for noded polygonize."""
    pieces: list[BaseGeometry] = []
    for ring, idx in zip(rings, used, strict=True):
        xy = shapely.get_coordinates(ring)
        if not idx:
            pieces.append(shapely.LineString(xy))
            continue
        m = len(xy) - 1
        for a, b in zip(idx, [*idx[1:], idx[0] + m], strict=True):
            pieces.append(shapely.LineString(xy[np.arange(a, b + 1) % m]))
    return pieces


def clipped_edges(
    parent: BaseGeometry, pairs: IntArray, segments_km: FloatArray
) -> tuple[FloatArray, FloatArray, IntArray, list[BaseGeometry]]:
    """Clip ridges to the parent and turn them into grid-snapped straight edges.

    Returns
    -------
    starts, ends, edge_pairs, ring_pieces
        Grid lon/lat ends of each edge, the two sites it separates, and the
        parent rings split where edges end on them.
    """
    seg_ll = _to_lonlat(segments_km)
    clipped = shapely.intersection(shapely.linestrings(seg_ll), parent)
    parts, ridx = shapely.get_parts(clipped, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)
    parts, ridx = parts[keep], ridx[keep]
    ends = np.stack(
        [
            shapely.get_coordinates(shapely.get_point(parts, 0)),
            shapely.get_coordinates(shapely.get_point(parts, -1)),
        ],
        axis=1,
    )  # (E, 2, 2)
    flat = ends.reshape(-1, 2)
    on_boundary = shapely.distance(shapely.points(flat), parent.boundary) < 1e-10
    # An end inside the parent is a power vertex. Take its exact ridge value,
    # so every edge meeting there rounds to the same grid node.
    ridge_ends = seg_ll[np.repeat(ridx, 2)]  # (2E, 2, 2)
    near_first = np.hypot(*(ridge_ends[:, 0] - flat).T) <= np.hypot(*(ridge_ends[:, 1] - flat).T)
    vertex = np.where(near_first[:, None], ridge_ends[:, 0], ridge_ends[:, 1])
    flat = np.where(on_boundary[:, None], flat, _to_grid(vertex))
    rings = _rings(parent)
    used: list[list[int]] = [[] for _ in rings]
    if on_boundary.any():
        flat[on_boundary], used = _snap_to_ring_vertices(flat[on_boundary], rings)
    ends = flat.reshape(-1, 2, 2)
    nonzero = np.any(ends[:, 0] != ends[:, 1], axis=1)
    return ends[nonzero, 0], ends[nonzero, 1], pairs[ridx[nonzero]], _ring_pieces(rings, used)


# ----------------------------------------------------------------------------
# irregular edges
# ----------------------------------------------------------------------------


def _midpoint_displacement(count: int, rng: np.random.Generator) -> FloatArray:
    """Return ``count`` fractal offset profiles on 2**MAX_DEPTH + 1 samples.

    The ends are 0 and the first midpoint has unit standard deviation. The
    coarse samples never change when finer levels are added, so striding the
    array gives the same curve at a lower resolution.
    """
    size = 2**MAX_DEPTH
    y = np.zeros((count, size + 1))
    sigma, step = 1.0, size
    while step > 1:
        half = step // 2
        mids = np.arange(half, size, step)
        noise = rng.normal(0.0, sigma, (count, len(mids)))
        y[:, mids] = 0.5 * (y[:, mids - half] + y[:, mids + half]) + noise
        sigma *= 2.0**-HURST
        step = half
    return y


def _corridors(
    parent: BaseGeometry,
    starts: FloatArray,
    ends: FloatArray,
    anchors_left: FloatArray,
    anchors_right: FloatArray,
) -> GeomArray:
    """Return the kite (start, anchor_i, end, anchor_j) of each edge, clipped to the parent.

    The cells are convex and each anchor lies inside its own cell, so the
    triangles (anchor, ridge) fan out without overlapping. An edge that stays
    inside its kite can therefore cross neither another edge nor an anchor.
    """

    def triangles(apex: FloatArray) -> GeomArray:
        area = (ends[:, 0] - starts[:, 0]) * (apex[:, 1] - starts[:, 1]) - (ends[:, 1] - starts[:, 1]) * (
            apex[:, 0] - starts[:, 0]
        )
        tri = shapely.polygons(np.stack([starts, ends, apex, starts], axis=1))
        return np.where(np.abs(area) > 1e-16, tri, shapely.Polygon())

    kites = shapely.union(triangles(anchors_left), triangles(anchors_right))
    shapely.prepare(parent)
    inside = shapely.covers(parent, kites)
    return np.where(inside, kites, shapely.intersection(kites, parent))


def _edge_coords(
    a_ll: FloatArray, b_ll: FloatArray, profile: FloatArray, amplitude: FloatArray, segs: IntArray
) -> list[FloatArray]:
    """Bend straight edges by the scaled profiles and snap them to the grid."""
    a_km, b_km = _to_km(a_ll), _to_km(b_ll)
    vec = b_km - a_km
    length = np.hypot(vec[:, 0], vec[:, 1])
    normal = np.column_stack([-vec[:, 1], vec[:, 0]]) / length[:, None]
    out: list[FloatArray] = [np.empty((0, 2))] * len(a_ll)
    for n in np.unique(segs):
        sel = np.flatnonzero(segs == n)
        t = np.arange(n + 1) / n
        # The sin envelope flattens the curve near its ends. Without it the fine
        # noise gives steep kinks at junctions and where edges meet the parent.
        envelope = np.sin(np.pi * t)
        y = profile[sel][:, :: (2**MAX_DEPTH) // n] * envelope * (amplitude[sel] * length[sel])[:, None]
        km = a_km[sel, None, :] + t[None, :, None] * vec[sel, None, :] + y[..., None] * normal[sel, None, :]
        ll = _to_grid(_to_lonlat(km))
        ll[:, 0], ll[:, -1] = a_ll[sel], b_ll[sel]  # ends are exact grid nodes
        for k, row in zip(sel, ll, strict=True):
            keep = np.r_[True, np.any(row[1:] != row[:-1], axis=1)]
            out[k] = row[keep]
    return out


def _inside_corridor(corridors: GeomArray, coords: list[FloatArray]) -> BoolArray:
    """Return True where an edge lies in its corridor with its inner vertices strictly inside."""
    sizes = np.array([len(c) for c in coords])
    lines = shapely.linestrings(np.concatenate(coords), indices=np.repeat(np.arange(len(coords)), sizes))
    inner_ok = sizes <= 2
    multi = np.flatnonzero(~inner_ok)
    if len(multi):
        inner = [coords[k][1:-1] for k in multi]
        pts = shapely.multipoints(
            np.concatenate(inner), indices=np.repeat(np.arange(len(multi)), [len(c) for c in inner])
        )
        inner_ok[multi] = shapely.contains_properly(corridors[multi], pts)
    return np.asarray(shapely.covers(corridors, lines) & inner_ok)


def bend_edges(
    parent: BaseGeometry,
    starts: FloatArray,
    ends: FloatArray,
    pairs: IntArray,
    anchors: FloatArray,
    style: LevelStyle,
    rng: np.random.Generator,
) -> GeomArray:
    """Replace straight edges by irregular, grid-snapped polylines.

    Each internal edge is bent once, so the two faces on either side share
    the very same coordinates. An edge that leaves its corridor is retried with
    smaller noise, and kept straight as a last resort.

    Returns
    -------
    GeomArray
        One LineString per edge.
    """
    length = np.hypot(*(_to_km(ends) - _to_km(starts)).T)
    depth = np.clip(np.round(np.log2(np.maximum(length, 1e-9) / style.spacing_km)), 0, MAX_DEPTH)
    segs = (2 ** depth.astype(np.int64)).astype(np.int64)
    profile = _midpoint_displacement(len(starts), rng)
    corridors = _corridors(parent, starts, ends, anchors[pairs[:, 0]], anchors[pairs[:, 1]])
    coords: list[FloatArray] = [np.empty((0, 2))] * len(starts)
    pending = np.arange(len(starts))
    for scale in NOISE_SCALES:
        amp = np.full(len(pending), style.amplitude * scale)
        # Straight fallbacks keep their vertices: the next level down may only
        # end its edges on existing vertices.
        trial = _edge_coords(starts[pending], ends[pending], profile[pending], amp, segs[pending])
        ok = _inside_corridor(corridors[pending], trial)
        if scale == 0 and not ok.all():
            raise PartitionError(f"{int((~ok).sum())} straight edges leave their corridor")
        for pos in np.flatnonzero(ok):
            coords[pending[pos]] = trial[pos]
        pending = pending[~ok]
        if not len(pending):
            break
    sizes = np.array([len(c) for c in coords])
    return np.asarray(
        shapely.linestrings(np.concatenate(coords), indices=np.repeat(np.arange(len(coords)), sizes))
    )


# ----------------------------------------------------------------------------
# faces
# ----------------------------------------------------------------------------


def _faces(parent: BaseGeometry, lines: GeomArray) -> GeomArray:
    """Polygonize the edge network and keep the faces inside the parent."""
    polys, cuts, dangles, invalid = shapely.polygonize_full(lines)
    for label, extra in (("cut edges", cuts), ("dangles", dangles), ("invalid rings", invalid)):
        if not shapely.is_empty(extra):
            raise PartitionError(f"polygonize produced {label}")
    faces = np.asarray(shapely.get_parts(polys))
    shapely.prepare(parent)
    faces = faces[shapely.contains(parent, shapely.point_on_surface(faces))]
    total = float(shapely.area(faces).sum())
    if abs(total - parent.area) > 1e-9 * parent.area:
        raise PartitionError(f"faces cover {total!r} of {parent.area!r}")
    return faces


def _face_owners(faces: GeomArray, anchors: FloatArray) -> IntArray:
    """Give every face a child.

    A face that holds an anchor belongs to that child. A face with no anchor
    (a piece of a cell cut off by a concave parent) joins the neighbour it
    shares the longest edge with.
    """
    tree = shapely.STRtree(faces)
    s_idx, f_idx = tree.query(shapely.points(anchors), predicate="within")
    n = len(anchors)
    if len(s_idx) != n or len(np.unique(s_idx)) != n or len(np.unique(f_idx)) != n:
        raise PartitionError("anchors and faces do not match one to one")
    owner = np.full(len(faces), -1, dtype=np.int64)
    owner[f_idx] = s_idx
    pending = [int(f) for f in np.flatnonzero(owner < 0)]
    while pending:
        left: list[int] = []
        for f in pending:
            nbrs = tree.query(faces[f], predicate="touches")
            nbrs = nbrs[owner[nbrs] >= 0]
            shared = shapely.length(
                shapely.intersection(shapely.boundary(faces[f]), shapely.boundary(faces[nbrs]))
            )
            if len(nbrs) and shared.max() > 0:
                owner[f] = owner[nbrs[int(np.argmax(shared))]]
            else:
                left.append(int(f))
        if len(left) == len(pending):
            raise PartitionError("orphan face without a shared edge")
        pending = left
    return owner


def _children_geoms(faces: GeomArray, owner: IntArray, count: int) -> list[BaseGeometry]:
    """Merge each child's faces. A coverage union keeps every outer vertex."""
    geoms: list[BaseGeometry] = []
    for s in range(count):
        mine = faces[owner == s]
        geoms.append(mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine))
    return geoms


def _probe_ok(geoms: list[BaseGeometry], urban: BoolArray, probe: shapely.Point) -> bool:
    """Return True if the probe lies clearly inside an urban child."""
    for geom, is_urban in zip(geoms, urban, strict=True):
        if geom.contains(probe):
            return bool(is_urban) and geom.boundary.distance(probe) >= PROBE_CLEARANCE_DEG
    return False


def _attempt(
    parent: BaseGeometry,
    sizes: FloatArray,
    urban: BoolArray,
    centre_ll: FloatArray,
    style: LevelStyle,
    rng: np.random.Generator,
) -> tuple[FloatArray, list[BaseGeometry]]:
    """Run one try at a partition; return the anchors (lon/lat) and one geometry per child."""
    parent_km = shapely.transform(parent, _to_km)
    targets = target_areas(sizes, urban, parent_km.area, style, rng)
    sites, weights = fit_power_diagram(parent_km, targets, urban, _to_km(centre_ll), rng)
    # The exact diagram is built around the frame centre, to keep the numbers small.
    xmin, ymin, xmax, ymax = parent_km.bounds
    origin = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2])
    margin = 0.05 * math.hypot(xmax - xmin, ymax - ymin) + 1.0
    frame = shapely.box(
        xmin - origin[0] - margin,
        ymin - origin[1] - margin,
        xmax - origin[0] + margin,
        ymax - origin[1] + margin,
    )
    cells = power_cells(sites - origin, weights, frame)
    if not np.all(shapely.get_type_id(cells) == 3):
        raise PartitionError("a power cell is empty or degenerate")
    pairs, segments = power_ridges(sites - origin, weights, cells, frame)
    anchors = _anchors(shapely.transform(cells, lambda xy: _to_lonlat(xy + origin)), parent)
    starts, ends, edge_pairs, pieces = clipped_edges(parent, pairs, segments + origin)
    lines = bend_edges(parent, starts, ends, edge_pairs, anchors, style, rng)
    faces = _faces(parent, np.concatenate([lines, np.asarray(pieces, dtype=object)]))
    owner = _face_owners(faces, anchors)
    return anchors, _children_geoms(faces, owner, len(sizes))


def partition(
    parent: BaseGeometry,
    sizes: FloatArray,
    urban: BoolArray,
    centre_ll: tuple[float, float],
    style: LevelStyle,
    rng: np.random.Generator,
    probe: shapely.Point | None = None,
) -> Partition:
    """Split ``parent`` into ``len(sizes)`` irregular cells that tile it exactly.

    Parameters
    ----------
    parent
        Polygon or MultiPolygon on the 1e-7 grid. It is never modified: child
        edges end only on its existing vertices.
    sizes
        Relative area wanted for each child, in code order.
    urban
        One flag per child. Urban children start near the centre.
    centre_ll
        Lon/lat of the urban centre (district seat or town centre).
    style
        Level parameters.
    rng
        Random stream of this parent.
    probe
        Optional point that must end up clearly inside an urban child.

    Returns
    -------
    Partition
        Child geometries and anchors, in code order.

    Raises
    ------
    RuntimeError
        If no valid partition is found in ``MAX_ATTEMPTS`` tries.
    """
    if len(sizes) == 1:
        return Partition([parent], shapely.get_coordinates(shapely.point_on_surface(parent)))
    centre = np.asarray(centre_ll, dtype=np.float64)
    reasons: list[str] = []
    for _ in range(MAX_ATTEMPTS):
        try:
            anchors, geoms = _attempt(parent, sizes, urban, centre, style, rng)
        except PartitionError as exc:
            reasons.append(str(exc))
            continue
        if probe is not None and not _probe_ok(geoms, urban, probe):
            reasons.append("probe point not clearly inside an urban child")
            continue
        return Partition(geoms, anchors)
    raise RuntimeError(f"could not partition parent after {MAX_ATTEMPTS} attempts: {reasons}")


# ----------------------------------------------------------------------------
# the whole hierarchy
# ----------------------------------------------------------------------------


def _centre_in(geom: BaseGeometry, target: tuple[float, float]) -> tuple[float, float]:
    """Return ``target`` if it lies in ``geom``, else the closest point of ``geom`` to it."""
    point = shapely.Point(target)
    if geom.contains(point):
        return target
    x, y = shapely.get_coordinates(shapely.shortest_line(geom, point))[0]
    return float(x), float(y)


def _children(divisions: pd.DataFrame, parent_code: str) -> pd.DataFrame:
    """Return the NBS rows whose parent is ``parent_code``, in code order."""
    rows = divisions[divisions["parent_code12"] == parent_code]
    return rows.sort_values("code12", kind="stable")


def _row(
    code: str, name: str, level: str, parent: str | None, synthetic: bool, geom: BaseGeometry
) -> dict[str, object]:
    return {
        "code": code,
        "name": name,
        "level": level,
        "parent_code": parent,
        "synthetic": synthetic,
        "geometry": geom,
    }


def _rooms(kids: pd.DataFrame, in_street: bool) -> FloatArray:
    """Return the relative area of each village/community.

    A 社区 counts 1 and a 村 counts ``VILLAGE_AREA_RATIO``. A 村 inside an urban
    街道 (an urban-fringe village) counts half that, so that 街道 stay smaller
    than townships with the same number of units.
    """
    village = VILLAGE_AREA_RATIO / 2 if in_street else VILLAGE_AREA_RATIO
    return np.where(kids["vc_kind_by_name"].to_numpy() == "community", 1.0, village)


def _district_rows(
    code: str, name: str, geom: BaseGeometry, src: Sources, seed: int, probe: shapely.Point
) -> list[dict[str, object]]:
    """Partition one real district into townships, then each township into villages."""
    divisions, seat = src.divisions, src.seats[code]
    towns = _children(divisions, code)
    town_urban = towns["name"].str.endswith("街道").to_numpy(dtype=bool)
    rooms = {
        str(t): _rooms(_children(divisions, str(t)), bool(u))
        for t, u in zip(towns["code12"], town_urban, strict=True)
    }
    towns_part = partition(
        geom,
        np.array([rooms[str(t)].sum() for t in towns["code12"]]),
        town_urban,
        seat,
        TOWNSHIP_STYLE,
        _unit_rng(seed, code),
        probe if geom.contains(probe) else None,
    )
    rows = [_row(code, name, "district", CITY_CODE, False, geom)]
    for town, town_geom, anchor, is_urban in zip(
        towns.itertuples(), towns_part.geoms, towns_part.anchors, town_urban, strict=True
    ):
        town_code = str(town.code12)
        rows.append(_row(town_code, str(town.name), "subdistrict", code, True, town_geom))
        kids = _children(divisions, town_code)
        # 社区 of an urban 街道 crowd towards the district seat; a township's
        # villages grow outward from its own centre.
        centre = _centre_in(town_geom, seat) if is_urban else (float(anchor[0]), float(anchor[1]))
        kids_part = partition(
            town_geom,
            rooms[town_code],
            (kids["vc_kind_by_name"] == "community").to_numpy(dtype=bool),
            centre,
            VILLAGE_STYLE,
            _unit_rng(seed, town_code),
            probe if town_geom.contains(probe) else None,
        )
        rows.extend(
            _row(str(kid.code12), str(kid.name), "community", town_code, True, kid_geom)
            for kid, kid_geom in zip(kids.itertuples(), kids_part.geoms, strict=True)
        )
    return rows


def generate(seed: int = 2023, source_dir: Path = SOURCE_DIR) -> gpd.GeoDataFrame:
    """Build the full four-level Tai'an boundary set.

    Parameters
    ----------
    seed
        Seed of all synthetic geometry. The same seed always gives
        byte-identical output.
    source_dir
        Folder with the reference inputs.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit, with columns ``code, name, level, parent_code,
        synthetic, geometry``, in EPSG:4326. It has been validated by
        :func:`_check_partition`.
    """
    src = load_sources(source_dir)
    probe = shapely.Point(PROBE_LONLAT)
    district_geoms = [densify_outline(g) for g in src.districts.geometry]
    city = shapely.coverage_union_all(np.asarray(district_geoms, dtype=object))
    city_name = str(src.divisions.loc[src.divisions["code12"] == CITY_CODE, "name"].iloc[0])
    rows = [_row(CITY_CODE, city_name, "city", None, False, city)]
    names = dict(zip(src.divisions["code12"], src.divisions["name"], strict=True))
    for code, geom in zip(src.districts["code"], district_geoms, strict=True):
        rows.extend(_district_rows(str(code), str(names[code]), geom, src, seed, probe))
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry="geometry", crs="EPSG:4326")
    order = gdf["level"].map({v: k for k, v in LEVELS.items()})
    gdf = gdf.assign(_o=order).sort_values(["_o", "code"], kind="stable").drop(columns="_o")
    gdf = gdf.reset_index(drop=True)
    # Counter-clockwise shells (RFC 7946). This only reorders vertices.
    gdf["geometry"] = shapely.orient_polygons(gdf.geometry.to_numpy(), exterior_cw=False)
    gdf["synthetic"] = gdf["synthetic"].astype(bool)
    _check_partition(gdf, src.divisions)
    return gdf


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------


def _fail(message: str) -> None:
    raise ValueError(f"taian boundary check failed: {message}")


def _check_table(gdf: gpd.GeoDataFrame, divisions: pd.DataFrame) -> None:
    """Check columns, counts, codes, names, parents and the synthetic flag."""
    if list(gdf.columns) != COLUMNS:
        _fail(f"columns {list(gdf.columns)} != {COLUMNS}")
    counts = gdf["level"].value_counts().to_dict()
    if counts != EXPECTED_COUNTS:
        _fail(f"level counts {counts} != {EXPECTED_COUNTS}")
    if not gdf["code"].str.fullmatch(r"\d{12}").all() or gdf["code"].duplicated().any():
        _fail("codes must be unique 12-digit strings")
    nbs = divisions.assign(level=divisions["level"].astype(int).map(LEVELS)).set_index("code12")
    got = gdf.set_index("code")
    if set(got.index) != set(nbs.index):
        _fail("codes differ from the NBS table")
    expected = nbs.loc[got.index]
    # The city's NBS parent (the province) is outside the set, so it is null here.
    expected_parent = expected["parent_code12"].where(expected["level"] != "city", "")
    for column, want in (
        ("name", expected["name"]),
        ("level", expected["level"]),
        ("parent_code", expected_parent),
    ):
        if not (got[column].fillna("").astype(str) == want.astype(str)).all():
            _fail(f"column {column!r} differs from the NBS table")
    if got.loc[got["level"] == "city", "parent_code"].notna().any():
        _fail("the city's parent_code must be null")
    expect_synth = got["level"].isin(["subdistrict", "community"])
    if not (got["synthetic"].astype(bool) == expect_synth).all():
        _fail("synthetic must be False for city/districts and True below")


def _check_geometry(gdf: gpd.GeoDataFrame) -> None:
    """Check validity, types and the 1e-7 grid of every geometry."""
    geoms = gdf.geometry.to_numpy()
    if not shapely.is_valid(geoms).all() or shapely.is_empty(geoms).any():
        _fail(f"invalid or empty geometries: {list(gdf.loc[~shapely.is_valid(geoms), 'code'])[:5]}")
    if not np.isin(shapely.get_type_id(geoms), [3, 6]).all():
        _fail("geometries must be Polygon or MultiPolygon")
    xy = shapely.get_coordinates(geoms) * GRID_SCALE
    if np.abs(xy - np.round(xy)).max() > 1e-3:
        _fail("coordinates are not on the 1e-7 degree grid")


def _check_nesting(parent: BaseGeometry, children: GeomArray, label: str) -> None:
    """Check that ``children`` tile ``parent`` exactly, with vertex-identical edges."""
    if not shapely.coverage_is_valid(children):
        _fail(f"{label}: children are not a valid coverage")
    total = float(shapely.area(children).sum())
    if abs(total - parent.area) > 1e-9 * parent.area:
        _fail(f"{label}: child area {total!r} != parent area {parent.area!r}")
    union = shapely.coverage_union_all(children)
    if not shapely.equals_exact(shapely.normalize(union), shapely.normalize(parent), tolerance=0.0):
        _fail(f"{label}: union of children is not vertex-identical to the parent")


def _check_probe(gdf: gpd.GeoDataFrame, divisions: pd.DataFrame) -> None:
    """Check that the probe point lies inside 泰山区 → an urban 街道 → a 社区, off the edges."""
    probe = shapely.Point(PROBE_LONLAT)
    hits = gdf[gdf.geometry.contains(probe)]
    by_level = dict(zip(hits["level"], zip(hits["code"], hits["name"], strict=True), strict=True))
    community_codes = set(divisions.loc[divisions["vc_kind_by_name"] == "community", "code12"])
    if set(by_level) != set(LEVELS.values()):
        _fail(f"probe {PROBE_LONLAT} is not inside one unit per level: {by_level}")
    if by_level["district"][0] != PROBE_DISTRICT or not by_level["subdistrict"][1].endswith("街道"):
        _fail(f"probe must be in an urban 街道 of 泰山区, got {by_level}")
    if by_level["community"][0] not in community_codes:
        _fail(f"probe must be in a 社区, got {by_level['community']}")
    if shapely.distance(shapely.boundary(hits.geometry.to_numpy()), probe).min() < PROBE_CLEARANCE_DEG:
        _fail("probe lies too close to a boundary")


def _check_partition(gdf: gpd.GeoDataFrame, divisions: pd.DataFrame | None = None) -> None:
    """Validate the whole boundary set; raise ``ValueError`` naming the first failure.

    We check the table: counts, real codes, names and parents, and the
    synthetic flag. We check that every geometry is valid and on the grid.
    For every parent, its children must be a valid coverage with the same
    area whose union is vertex-identical to the parent. Each full level must
    be a valid coverage. Finally, the probe point must lie in an urban 社区
    of 泰山区.

    Parameters
    ----------
    gdf
        Output of :func:`generate`.
    divisions
        The NBS table. It is read from ``source/`` when omitted.
    """
    if divisions is None:
        divisions = pd.read_csv(SOURCE_DIR / DIVISIONS_FILE, dtype=str, keep_default_na=False)
    _check_table(gdf, divisions)
    _check_geometry(gdf)
    geom_of = dict(zip(gdf["code"], gdf.geometry, strict=True))
    for parent_code, group in gdf[gdf["parent_code"].notna()].groupby("parent_code", sort=True):
        _check_nesting(geom_of[str(parent_code)], group.geometry.to_numpy(), f"children of {parent_code}")
    for level in ("district", "subdistrict", "community"):
        if not shapely.coverage_is_valid(gdf.loc[gdf["level"] == level].geometry.to_numpy()):
            _fail(f"{level} layer is not a valid coverage")
    _check_probe(gdf, divisions)


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------


def write(gdf: gpd.GeoDataFrame, out: Path) -> None:
    """Write GeoParquet (zstd, WKB, EPSG:4326)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_parquet(out, compression="zstd", index=False)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: generate, validate and write the boundary set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=2023, help="random seed (default 2023)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output path (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    gdf = generate(args.seed)
    write(gdf, args.out)
    vertices = int(shapely.get_num_coordinates(gdf.geometry.to_numpy()).sum())
    print(f"wrote {len(gdf)} units ({vertices} vertices) to {args.out} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
