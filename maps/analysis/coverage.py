""" "300米见绿、500米见园": how much demand green space reaches, per subdistrict, before and after a plan.

The standards are data (:data:`STANDARDS`): a radius and the kinds of green space
that count for it.  Green space within 300 m counts any park, pocket park or square
(见绿); a park within 500 m counts parks and pocket parks, not squares (见园).  A
demand point is covered when a counted green space is within the radius of it,
measured to the green space's *edge* (a point in or next to a 10-hectare park is
served by it, wherever its centre is), in metres in
:data:`~maps.analysis.density.METRIC_CRS`; a point exactly at the radius is covered.
Proposed sites are pocket parks, so they count for both standards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidInputError
from maps.analysis.density import METRIC_CRS, _require_geoframe, _require_same_crs

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["STANDARDS", "Standard", "coverage_by_subdistrict", "coverage_totals", "standard_for"]


@dataclass(frozen=True, slots=True)
class Standard:
    """A coverage standard: which green spaces count, and within what distance.

    Attributes
    ----------
    key : str
        Column prefix in coverage tables (``green_300``).
    name_zh, name_en : str
    radius_m : float
        Distance from a demand point to a green space's edge, metres (inclusive).
    kinds : tuple of str
        The green-space kinds that count (keys of :data:`greenspace.kinds.KINDS`).
    """

    key: str
    name_zh: str
    name_en: str
    radius_m: float
    kinds: tuple[str, ...]


STANDARDS: tuple[Standard, ...] = (
    Standard("green_300", "300米见绿", "green space within 300 m", 300.0, ("park", "pocket_park", "square")),
    Standard("park_500", "500米见园", "a park within 500 m", 500.0, ("park", "pocket_park")),
)
"""300米见绿 and 500米见园."""


def standard_for(radius_m: float) -> Standard | None:
    """The standard with this radius, if any.

    Examples
    --------
    >>> standard_for(500).name_zh, standard_for(400)
    ('500米见园', None)
    """
    return next((s for s in STANDARDS if s.radius_m == float(radius_m)), None)


def coverage_by_subdistrict(
    demand: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None = None,
    *,
    names: dict[str, str] | None = None,
    standards: tuple[Standard, ...] = STANDARDS,
) -> pd.DataFrame:
    """Demand covered by each standard, per subdistrict, before and after the proposed sites.

    Parameters
    ----------
    demand : GeoDataFrame
        Demand points with a ``subdistrict_code`` column (reports of missing green
        space or fitness facilities).
    parks : GeoDataFrame or None
        Existing green spaces, points or polygons, with a ``kind`` column (parks
        without one count as ``park``); None for none.
    sites : GeoDataFrame, optional
        Proposed sites (points), counted as pocket parks.
    names : dict, optional
        Subdistrict code -> name, for the ``subdistrict_name`` column.
    standards : tuple of Standard

    Returns
    -------
    DataFrame
        One row per subdistrict with demand, largest demand first: ``subdistrict_code,
        subdistrict_name, demand``, then for each standard ``<key>_before`` and
        ``<key>_after`` (demand points covered).

    Raises
    ------
    InvalidInputError
        Missing columns or non-point demand; CRSMismatchError when the frames differ.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> # 350 m east of the park's centre is 250 m from its edge: covered at 300 m
    >>> demand = gpd.GeoDataFrame({"subdistrict_code": ["A", "A", "B"]},
    ...     geometry=gpd.points_from_xy([0, 350, 2000], [0, 0, 0]), crs=4548)
    >>> park = gpd.GeoDataFrame({"kind": ["park"]}, geometry=[shapely.box(-100, -100, 100, 100)], crs=4548)
    >>> site = gpd.GeoDataFrame(geometry=gpd.points_from_xy([2100], [0]), crs=4548)
    >>> table = coverage_by_subdistrict(demand, park, site)
    >>> columns = ["subdistrict_code", "demand", "green_300_before", "green_300_after", "park_500_after"]
    >>> table[columns].values.tolist()
    [['A', 2, 2, 2, 2], ['B', 1, 0, 1, 1]]
    """
    before, after = _covered(demand, parks, sites, standards)
    codes = demand["subdistrict_code"].astype(object).where(demand["subdistrict_code"].notna(), None)
    table = pd.DataFrame({"subdistrict_code": codes.to_numpy(dtype=object), "demand": 1})
    for standard in standards:
        table[f"{standard.key}_before"] = before[standard.key].astype(np.int64)
        table[f"{standard.key}_after"] = after[standard.key].astype(np.int64)
    table = table.groupby("subdistrict_code", dropna=False, sort=True, as_index=False).sum()
    table.insert(1, "subdistrict_name", table["subdistrict_code"].map(names or {}).astype(object))
    table["subdistrict_name"] = table["subdistrict_name"].where(table["subdistrict_name"].notna(), None)
    return table.sort_values(["demand", "subdistrict_code"], ascending=[False, True], ignore_index=True)


def coverage_totals(table: pd.DataFrame, standards: tuple[Standard, ...] = STANDARDS) -> list[dict[str, Any]]:
    """The whole area's figures of a :func:`coverage_by_subdistrict` table, per standard.

    Examples
    --------
    >>> table = pd.DataFrame({"demand": [3, 1], "green_300_before": [1, 0], "green_300_after": [3, 1],
    ...                       "park_500_before": [2, 1], "park_500_after": [3, 1]})
    >>> coverage_totals(table)[0]["share_after"]
    1.0
    """
    total = int(table["demand"].sum())
    rows = []
    for standard in standards:
        covered_before = int(table[f"{standard.key}_before"].sum())
        covered_after = int(table[f"{standard.key}_after"].sum())
        rows.append(
            {
                "standard": standard.key,
                "name_zh": standard.name_zh,
                "name_en": standard.name_en,
                "radius_m": standard.radius_m,
                "kinds": list(standard.kinds),
                "demand": total,
                "covered_before": covered_before,
                "covered_after": covered_after,
                "share_before": covered_before / total if total else 0.0,
                "share_after": covered_after / total if total else 0.0,
            }
        )
    return rows


def _covered(
    demand: Any, parks: Any, sites: Any, standards: tuple[Standard, ...]
) -> tuple[dict[str, NDArray[np.bool_]], dict[str, NDArray[np.bool_]]]:
    """Which demand points each standard covers before and after the sites."""
    _require_geoframe(demand, "demand")
    if "subdistrict_code" not in demand.columns:
        raise InvalidInputError(
            "demand has no column 'subdistrict_code'; allowed: demand points with the subdistrict each is in",
            field="demand",
        )
    points = demand.geometry.to_crs(METRIC_CRS).to_numpy()
    if len(points) and not (shapely.get_type_id(points) == 0).all():
        raise InvalidInputError("demand holds non-point geometries; allowed: points", field="demand")
    kinds = np.empty(0, dtype=object)
    green = np.empty(0, dtype=object)
    if parks is not None and len(parks):
        _require_geoframe(parks, "parks")
        _require_same_crs(demand, "demand", parks, "parks")
        green = parks.geometry.to_crs(METRIC_CRS).to_numpy()
        kinds = (
            parks["kind"].to_numpy(dtype=object) if "kind" in parks.columns else np.full(len(parks), "park")
        )
    proposed = np.empty(0, dtype=object)
    if sites is not None and len(sites):
        _require_geoframe(sites, "sites")
        _require_same_crs(demand, "demand", sites, "sites")
        proposed = sites.geometry.to_crs(METRIC_CRS).to_numpy()
    before: dict[str, NDArray[np.bool_]] = {}
    after: dict[str, NDArray[np.bool_]] = {}
    for standard in standards:
        counted = green[np.isin(kinds, standard.kinds)] if len(green) else green
        before[standard.key] = _within(points, counted, standard.radius_m)
        after[standard.key] = before[standard.key] | _within(points, proposed, standard.radius_m)
    return before, after


def _within(points: NDArray[np.object_], targets: NDArray[np.object_], radius_m: float) -> NDArray[np.bool_]:
    """True for the points within ``radius_m`` of some target (to its edge; inclusive)."""
    covered = np.zeros(len(points), dtype=bool)
    usable = targets[~shapely.is_missing(targets) & ~shapely.is_empty(targets)] if len(targets) else targets
    if len(usable) and len(points):
        hit, _ = shapely.STRtree(usable).query(points, predicate="dwithin", distance=radius_m)
        covered[hit] = True
    return covered
