"""Sites for the children of one parent: a power diagram (weighted Voronoi) fitted to
target areas, then built exactly, its ridges ready to be clipped to the parent."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from boundaries.taian.frame import (
    NEWTON_FRACTION,
    PACKING,
    WEIGHT_STEPS,
    BoolArray,
    FloatArray,
    GeomArray,
    IntArray,
    LevelStyle,
    PartitionError,
)

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


def cell_anchors(cells_ll: GeomArray, parent: BaseGeometry) -> FloatArray:
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
