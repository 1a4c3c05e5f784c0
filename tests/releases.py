"""A realistic boundary release, made the way a data team makes one: from the set that
``siji boundaries export --level all`` writes, with the changes of a real year.

:func:`build_release` takes the exported bundled Tai'an set and returns it changed:

* **merge**: 三里 (370902002001) and 灵山 (370902002002), two communities of 财源街道,
  become one new community, :data:`MERGED_INTO`;
* **strip**: a strip about 100 m wide along their shared edge moves from 更新
  (:data:`STRIP_FROM`) to its neighbour 中七 (:data:`STRIP_TO`); both keep their codes;
* **re-code**: 宁阳县 370921 becomes 370912 (the way 岱岳区 370903 became 370911), and with
  it the code of every subdistrict and village below it;
* **rename**: 上高街道 (:data:`RENAMED`) becomes :data:`NEW_NAME`, same code and polygon;
* **split**: 岱庙街道's first community (:data:`SPLIT_OLD`) is cut in two new
  communities, :data:`SPLIT_NEW` (west, east).

Every change keeps the set an exact partition (the validator finds no problem above its
tolerance).  :class:`Release` also names points inside the changed units, for lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box

CAIYUAN = "370902002000"
MERGED = ("370902002001", "370902002002")
MERGED_INTO = "370902002030"
MERGED_NAME = "三里灵山社区居委会"
STRIP_FROM, STRIP_TO = "370902002003", "370902002009"
STRIP_WIDTH_DEG = 0.001  # about 90 m east-west, 110 m north-south
OLD_NINGYANG, NEW_NINGYANG = "370921", "370912"
NINGYANG = OLD_NINGYANG + "000000"
NINGYANG_NEW = NEW_NINGYANG + "000000"
RENAMED, NEW_NAME = "370902004000", "泰山新区街道"
SPLIT_OLD = "370902001001"
SPLIT_NEW = ("370902001202", "370902001203")


@dataclass(frozen=True)
class Release:
    """The changed set and points that land in the changed places (WGS84 lon, lat)."""

    frame: gpd.GeoDataFrame
    in_merged: tuple[float, float]  # inside the old 三里, now the merged unit
    in_strip: tuple[float, float]  # moved from STRIP_FROM to STRIP_TO
    in_ningyang: tuple[float, float]  # a village of 宁阳县
    in_split_west: tuple[float, float]
    in_split_east: tuple[float, float]

    @property
    def recoded(self) -> dict[str, str]:
        """Old code -> new code of every re-coded unit of 宁阳县."""
        codes = self.frame["code"]
        new = codes[codes.str.startswith(NEW_NINGYANG)]
        return {OLD_NINGYANG + code[len(NEW_NINGYANG) :]: code for code in new}


def build_release(exported: gpd.GeoDataFrame) -> Release:
    """The release built from an exported set (columns code, name, level, parent_code)."""
    frame = exported[["code", "name", "level", "parent_code", "geometry"]].copy()
    frame["parent_code"] = frame["parent_code"].astype(object).where(frame["parent_code"].notna(), None)
    geometry = frame.set_index("code").geometry
    in_merged = _inside(geometry[MERGED[0]])
    frame = _merge(frame)
    frame, in_strip = _move_strip(frame)
    in_ningyang = _inside(geometry[frame["code"][frame["code"].str.startswith("370921")].iloc[-1]])
    frame = _recode(frame)
    frame.loc[frame["code"] == RENAMED, "name"] = NEW_NAME
    frame, west, east = _split(frame)
    frame = frame.reset_index(drop=True)
    return Release(frame, in_merged, in_strip, in_ningyang, west, east)


def _inside(polygon: shapely.Geometry) -> tuple[float, float]:
    point = shapely.point_on_surface(polygon)
    return float(point.x), float(point.y)


def _merge(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    parts = frame[frame["code"].isin(MERGED)]
    merged = shapely.coverage_union_all(np.asarray(parts.geometry.values))
    row = gpd.GeoDataFrame(
        {"code": [MERGED_INTO], "name": [MERGED_NAME], "level": ["community"], "parent_code": [CAIYUAN]},
        geometry=[merged],
        crs=frame.crs,
    )
    kept = frame[~frame["code"].isin(MERGED)]
    return gpd.GeoDataFrame(pd_concat([kept, row]), crs=frame.crs)


def _move_strip(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, tuple[float, float]]:
    by_code = frame.set_index("code").geometry
    source, target = by_code[STRIP_FROM], by_code[STRIP_TO]
    edge = shapely.intersection(source, target)
    strip = shapely.intersection(source, shapely.buffer(edge, STRIP_WIDTH_DEG, cap_style="flat"))
    strip = shapely.set_precision(strip, 0)  # a plain polygonal result
    strip = shapely.union_all([p for p in shapely.get_parts(strip) if p.geom_type == "Polygon"])
    geometries = frame.geometry.values.copy()
    codes = frame["code"].to_numpy()
    geometries[codes == STRIP_FROM] = shapely.difference(source, strip)
    geometries[codes == STRIP_TO] = shapely.union(target, strip)
    return frame.set_geometry(geometries), _inside(strip)


def _recode(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for column in ("code", "parent_code"):
        frame[column] = [
            NEW_NINGYANG + c[len(OLD_NINGYANG) :] if isinstance(c, str) and c.startswith(OLD_NINGYANG) else c
            for c in frame[column]
        ]
    return frame


def _split(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, tuple[float, float], tuple[float, float]]:
    old = frame[frame["code"] == SPLIT_OLD].iloc[0]
    polygon = old.geometry
    minx, miny, _, maxy = polygon.bounds
    cut = shapely.point_on_surface(polygon).x
    west = shapely.intersection(polygon, box(minx - 1, miny - 1, cut, maxy + 1))
    east = shapely.difference(polygon, west)
    rows = gpd.GeoDataFrame(
        {
            "code": list(SPLIT_NEW),
            "name": [f"{old['name'][:-5]}西社区居委会", f"{old['name'][:-5]}东社区居委会"],
            "level": ["community", "community"],
            "parent_code": [old["parent_code"]] * 2,
        },
        geometry=[west, east],
        crs=frame.crs,
    )
    kept = frame[frame["code"] != SPLIT_OLD]
    return gpd.GeoDataFrame(pd_concat([kept, rows]), crs=frame.crs), _inside(west), _inside(east)


def pd_concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def with_unknown_parent(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The release broken the way the issue found it: one community's parent code does not exist."""
    broken = frame.copy()
    first = broken.index[broken["level"] == "community"][0]
    broken.loc[first, "parent_code"] = "370902999000"
    return broken


@dataclass(frozen=True)
class ReleaseFiles:
    """The exported set and the releases made from it, written once per test session."""

    exported: Path  # what `siji boundaries export --level all` wrote (the bundled set)
    release: Path  # the realistic release (GeoPackage)
    broken: Path  # the same with one community's parent code unknown
    facts: Release


def write_release_files(folder: Path) -> ReleaseFiles:
    """Export the bundled set with the real command, build the releases from the file."""
    from typer.testing import CliRunner

    from siji.cli import app

    exported = folder / "taian_all.gpkg"
    result = CliRunner().invoke(
        app,
        ["boundaries", "export", "--level", "all", str(exported)],
        env={"SIJI_DATABASE_URL": f"sqlite:///{folder / 'export.db'}"},
    )
    assert result.exit_code == 0, result.output
    facts = build_release(gpd.read_file(exported))
    release, broken = folder / "release.gpkg", folder / "broken.gpkg"
    facts.frame.to_file(release)
    with_unknown_parent(facts.frame).to_file(broken)
    return ReleaseFiles(exported, release, broken, facts)
