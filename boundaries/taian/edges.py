"""From power ridges to faces: ridge ends snapped onto the parent's own vertices, ridges
bent inside their corridors, the network polygonized and each face given to its child."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from boundaries.taian.frame import (
    HURST,
    MAX_DEPTH,
    MAX_SNAP_SHIFT,
    NOISE_SCALES,
    BoolArray,
    FloatArray,
    GeomArray,
    IntArray,
    LevelStyle,
    PartitionError,
    to_grid,
    to_km,
    to_lonlat,
)

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
    seg_ll = to_lonlat(segments_km)
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
    flat = np.where(on_boundary[:, None], flat, to_grid(vertex))
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
    a_km, b_km = to_km(a_ll), to_km(b_ll)
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
        ll = to_grid(to_lonlat(km))
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
    length = np.hypot(*(to_km(ends) - to_km(starts)).T)
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


def polygon_faces(parent: BaseGeometry, lines: GeomArray) -> GeomArray:
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


def face_owners(faces: GeomArray, anchors: FloatArray) -> IntArray:
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


def children_geoms(faces: GeomArray, owner: IntArray, count: int) -> list[BaseGeometry]:
    """Merge each child's faces. A coverage union keeps every outer vertex."""
    geoms: list[BaseGeometry] = []
    for s in range(count):
        mine = faces[owner == s]
        geoms.append(mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine))
    return geoms
