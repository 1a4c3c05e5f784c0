"""Checks the generated set must pass before it is written: the table against the NBS
divisions, valid geometry, exact nesting and coverage at every level, the probe point."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from boundaries.taian.frame import (
    COLUMNS,
    DIVISIONS_FILE,
    EXPECTED_COUNTS,
    GRID_SCALE,
    LEVELS,
    PROBE_CLEARANCE_DEG,
    PROBE_DISTRICT,
    PROBE_LONLAT,
    SOURCE_DIR,
    GeomArray,
)

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


def check_partition(gdf: gpd.GeoDataFrame, divisions: pd.DataFrame | None = None) -> None:
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
