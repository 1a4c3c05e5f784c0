"""Validate a boundary set and report every problem in a readable form.

Checks, each with its own ``check`` name in the report:

``geometry``  invalid polygons, with GEOS's reason and location (repaired only when
              asked, with :func:`repair`);
``codes``     unique codes;
``parents``   parent codes that resolve, exactly one level up;
``levels``    no level missing between the top level present and the finest;
``nesting``   each unit inside its parent: the area outside it, in m², above a tolerance;
``tiling``    siblings tiling their parent: each gap and each overlap above the tolerance,
              with its area in m² and a representative point.

Areas are measured in a Lambert azimuthal equal-area projection centred on the set.
Parent checks use ``point_on_surface``-style representative points, never centroids
(a centroid can fall outside a concave unit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.levels import LEVEL_KEYS, get_level

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray

DEFAULT_TOLERANCE_M2 = 10.0
#: Checks whose problems no ``--accept-problems`` can wave through: an invalid polygon
#: breaks unions and point tests for every lookup, and a code used twice makes
#: answers ambiguous and lineage meaningless.
BLOCKING_CHECKS = frozenset({"geometry", "codes"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of the validator."""

    check: str
    code: str | None
    message: str
    area_m2: float | None = None
    lon: float | None = None
    lat: float | None = None


@dataclass(slots=True)
class ValidationReport:
    """All findings for a boundary set, plus what was counted."""

    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)
    tolerance_m2: float = DEFAULT_TOLERANCE_M2

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def blocking(self) -> list[Problem]:
        """Problems of the :data:`BLOCKING_CHECKS`: the set must not be stored with them."""
        return [p for p in self.problems if p.check in BLOCKING_CHECKS]

    def by_check(self) -> dict[str, int]:
        """Number of problems per check."""
        out: dict[str, int] = {}
        for problem in self.problems:
            out[problem.check] = out.get(problem.check, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the report."""
        return {
            "ok": self.ok,
            "counts": self.counts,
            "tolerance_m2": self.tolerance_m2,
            "problems_by_check": self.by_check(),
            "problems": [asdict(p) for p in self.problems],
            "repaired": self.repaired,
        }


def validate(frame: gpd.GeoDataFrame, tolerance_m2: float = DEFAULT_TOLERANCE_M2) -> ValidationReport:
    """Validate a normalized boundary set (as returned by ``read_boundaries``).

    Parameters
    ----------
    frame : GeoDataFrame
        Columns ``code``, ``name``, ``level``, ``parent_code``, geometry in EPSG:4326.
    tolerance_m2 : float
        Gaps, overlaps and areas outside the parent smaller than this are ignored.

    Returns
    -------
    ValidationReport

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> frame = gpd.GeoDataFrame(
    ...     {"code": ["C", "D1", "D2"], "name": ["c", "d1", "d2"],
    ...      "level": ["city", "district", "district"], "parent_code": [None, "C", "C"]},
    ...     geometry=[box(117, 36, 117.2, 36.1), box(117, 36, 117.1, 36.1), box(117.1, 36, 117.15, 36.1)],
    ...     crs=4326)
    >>> report = validate(frame)
    >>> [(p.check, p.code, round(p.area_m2 / 1e6, 1)) for p in report.problems]
    [('tiling', 'C', 50.0)]
    """
    report = ValidationReport(tolerance_m2=tolerance_m2)
    # Not astype(str): pandas' string dtype keeps a missing code as NaN, which breaks sorting.
    raw_codes = frame["code"].tolist()
    missing = {i for i, c in enumerate(raw_codes) if c is None or c != c or str(c).strip() == ""}
    codes = np.array([f"#{i + 1}" if i in missing else str(c) for i, c in enumerate(raw_codes)], dtype=object)
    for i in sorted(missing):
        report.problems.append(Problem("codes", None, f"feature #{i + 1} has no code"))
    ranks = np.asarray([get_level(v).rank for v in frame["level"]], dtype=np.int8)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    report.counts = {LEVEL_KEYS[r]: int((ranks == r).sum()) for r in sorted(set(ranks.tolist()))}
    _check_geometry(report, codes, geoms)
    _check_codes(report, codes)
    parent_rows = _check_parents(report, frame, codes, ranks)
    _check_levels(report, ranks)
    valid = shapely.is_valid(geoms)
    area_proj = _EqualArea(geoms)
    _check_nesting(report, area_proj, codes, geoms, parent_rows, valid)
    _check_tiling(report, area_proj, codes, geoms, parent_rows, ranks, valid)
    return report


def repair(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Repair invalid polygons with ``make_valid`` (structure method), keeping polygonal parts.

    Returns the repaired frame and the codes that were changed.
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    invalid = ~shapely.is_valid(geoms)
    fixed = geoms.copy()
    if invalid.any():
        made = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        fixed[invalid] = [_polygonal(g) for g in made]
    out = frame.set_geometry(fixed, crs=frame.crs)
    return out, frame["code"].astype(str).to_numpy()[invalid].tolist()


def _polygonal(geometry: Any) -> Any:
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


class _EqualArea:
    """Areas in m²: a Lambert azimuthal equal-area projection centred on the set.

    Topology (differences, intersections) is computed on the WGS84 geometries, where
    shared edges are identical; only the results are projected, for their area.
    """

    def __init__(self, geoms: NDArray[np.object_]) -> None:
        from pyproj import Transformer

        # Only finite vertices: one NaN or infinite vertex must not make the projection unbuildable.
        coords = shapely.get_coordinates(geoms)
        coords = coords[np.isfinite(coords).all(axis=1) & (np.abs(coords) <= (180, 90)).all(axis=1)]
        minx, miny = coords.min(axis=0) if len(coords) else (0.0, 0.0)
        maxx, maxy = coords.max(axis=0) if len(coords) else (0.0, 0.0)
        laea = f"+proj=laea +lat_0={(miny + maxy) / 2} +lon_0={(minx + maxx) / 2} +ellps=WGS84 +units=m"
        self._forward = Transformer.from_crs("EPSG:4326", laea, always_xy=True)

    def project(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        def forward(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            px, py = self._forward.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([px, py])

        return shapely.transform(geoms, forward)

    def area(self, geoms: Any) -> NDArray[np.float64]:
        """Area in m² of WGS84 geometries."""
        return np.asarray(shapely.area(self.project(np.asarray(geoms, dtype=object))), dtype=np.float64)


def _lonlat(geometry: Any) -> tuple[float, float]:
    """A representative point (always inside the geometry, unlike a centroid)."""
    point = shapely.point_on_surface(geometry)
    return round(float(point.x), 7), round(float(point.y), 7)


def _check_geometry(report: ValidationReport, codes: NDArray[Any], geoms: NDArray[np.object_]) -> None:
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    for i in invalid:
        reason = shapely.is_valid_reason(geoms[i])
        lon = lat = None
        if "[" in reason:
            coords = reason[reason.index("[") + 1 : reason.rindex("]")].split()
            lon, lat = float(coords[0]), float(coords[1])
        report.problems.append(
            Problem("geometry", codes[i], f"unit {codes[i]}: invalid polygon ({reason})", lon=lon, lat=lat)
        )


def _check_codes(report: ValidationReport, codes: NDArray[Any]) -> None:
    unique, counts = np.unique(codes, return_counts=True)
    for code, count in zip(unique[counts > 1], counts[counts > 1], strict=True):
        report.problems.append(Problem("codes", str(code), f"code {code} is used by {count} units"))


def _check_parents(
    report: ValidationReport, frame: gpd.GeoDataFrame, codes: NDArray[Any], ranks: NDArray[np.int8]
) -> NDArray[np.int64]:
    row_of = {code: i for i, code in enumerate(codes)}
    parent_rows = np.full(len(codes), -1, dtype=np.int64)
    top = int(ranks.min()) if len(ranks) else 0
    for i, parent in enumerate(frame["parent_code"].tolist()):
        if ranks[i] == top:
            continue
        if parent is None or (isinstance(parent, float) and np.isnan(parent)):
            report.problems.append(Problem("parents", codes[i], f"unit {codes[i]} has no parent code"))
            continue
        row = row_of.get(str(parent))
        if row is None:
            report.problems.append(
                Problem("parents", codes[i], f"unit {codes[i]}: parent code {parent} does not resolve")
            )
        elif ranks[row] != ranks[i] - 1:
            report.problems.append(
                Problem(
                    "parents",
                    codes[i],
                    f"unit {codes[i]} ({LEVEL_KEYS[ranks[i]]}) has parent {parent} at level "
                    f"{LEVEL_KEYS[ranks[row]]}; it must be exactly one level up",
                )
            )
        else:
            parent_rows[i] = row
    return parent_rows


def _check_levels(report: ValidationReport, ranks: NDArray[np.int8]) -> None:
    present = sorted(set(ranks.tolist()))
    for rank in range(present[0], present[-1] + 1) if present else ():
        if rank not in present:
            report.problems.append(
                Problem(
                    "levels",
                    None,
                    f"level {LEVEL_KEYS[rank]} is missing between "
                    f"{LEVEL_KEYS[present[0]]} and {LEVEL_KEYS[present[-1]]}",
                )
            )


def _check_nesting(
    report: ValidationReport,
    area_proj: _EqualArea,
    codes: NDArray[Any],
    geoms: NDArray[np.object_],
    parent_rows: NDArray[np.int64],
    valid: NDArray[np.bool_],
) -> None:
    child = np.flatnonzero((parent_rows >= 0) & valid & valid[np.maximum(parent_rows, 0)])
    outside = shapely.difference(geoms[child], geoms[parent_rows[child]])
    areas = area_proj.area(outside)
    for i in np.flatnonzero(areas > report.tolerance_m2):
        row = child[i]
        lon, lat = _lonlat(outside[i])
        report.problems.append(
            Problem(
                "nesting",
                codes[row],
                f"unit {codes[row]}: {areas[i]:.1f} m² lies outside its parent {codes[parent_rows[row]]}",
                area_m2=round(float(areas[i]), 1),
                lon=lon,
                lat=lat,
            )
        )


def _check_tiling(
    report: ValidationReport,
    area_proj: _EqualArea,
    codes: NDArray[Any],
    geoms: NDArray[np.object_],
    parent_rows: NDArray[np.int64],
    ranks: NDArray[np.int8],
    valid: NDArray[np.bool_],
) -> None:
    finest = int(ranks.max())
    order = np.argsort(parent_rows, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(parent_rows[order])) + 1)
    children_of = {int(parent_rows[g[0]]): g for g in groups if len(g) and parent_rows[g[0]] >= 0}
    for parent in np.flatnonzero(valid & (ranks < finest)):
        kids = children_of.get(int(parent), np.empty(0, dtype=np.int64))
        kids = kids[valid[kids]]
        if len(kids) == 0:
            report.problems.append(
                Problem(
                    "tiling",
                    codes[parent],
                    f"unit {codes[parent]} has no {LEVEL_KEYS[ranks[parent] + 1]} units",
                )
            )
            continue
        covered = shapely.union_all(geoms[kids])
        gaps = shapely.get_parts(shapely.difference(geoms[parent], covered))
        for gap in gaps[area_proj.area(gaps) > report.tolerance_m2]:
            message = f"gap of {{area:.1f}} m² in {codes[parent]}: not covered by any of its children"
            _add_area(report, area_proj, codes[parent], message, gap)
        tree = shapely.STRtree(geoms[kids])
        # Neighbours in a partition only touch; overlapping ones overlap or contain.
        pairs = np.concatenate(
            [tree.query(geoms[kids], predicate=p) for p in ("overlaps", "contains")], axis=1
        )
        pairs = np.unique(np.sort(pairs[:, pairs[0] != pairs[1]], axis=0), axis=1)  # each pair once
        left, right = pairs
        overlaps = shapely.intersection(geoms[kids[left]], geoms[kids[right]])
        areas = area_proj.area(overlaps)
        for k in np.flatnonzero(areas > report.tolerance_m2):
            a, b = codes[kids[left[k]]], codes[kids[right[k]]]
            _add_area(report, area_proj, a, f"units {a} and {b} overlap by {{area:.1f}} m²", overlaps[k])


def _add_area(report: ValidationReport, area_proj: _EqualArea, code: str, template: str, geom: Any) -> None:
    area = float(area_proj.area([geom])[0])
    lon, lat = _lonlat(geom)
    report.problems.append(
        Problem("tiling", code, template.format(area=area), area_m2=round(area, 1), lon=lon, lat=lat)
    )
