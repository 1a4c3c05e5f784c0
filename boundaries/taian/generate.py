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
import math
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from boundaries.taian.checks import check_partition
from boundaries.taian.edges import bend_edges, children_geoms, clipped_edges, face_owners, polygon_faces
from boundaries.taian.frame import (
    CITY_CODE,
    COLUMNS,
    DEFAULT_OUT,
    DISTRICTS_FILE,
    DIVISIONS_FILE,
    LEVELS,
    MAX_ATTEMPTS,
    PLACES_FILE,
    PROBE_CLEARANCE_DEG,
    PROBE_LONLAT,
    SEAT_OVERRIDES,
    SEAT_PLACES,
    SOURCE_DIR,
    TOWNSHIP_STYLE,
    VILLAGE_AREA_RATIO,
    VILLAGE_STYLE,
    BoolArray,
    FloatArray,
    LevelStyle,
    Partition,
    PartitionError,
    densify_outline,
    to_grid,
    to_km,
    to_lonlat,
    unit_rng,
)
from boundaries.taian.power import cell_anchors, fit_power_diagram, power_cells, power_ridges, target_areas


@dataclass(frozen=True)
class Sources:
    """The reference inputs, read from ``source/``."""

    districts: gpd.GeoDataFrame  # code (12-digit), name, geometry
    divisions: pd.DataFrame  # the NBS csv, all columns as str
    seats: dict[str, tuple[float, float]]  # district code12 -> seat lon/lat


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
        geometry=shapely.transform(raw.geometry.to_numpy(), to_grid),
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
    parent_km = shapely.transform(parent, to_km)
    targets = target_areas(sizes, urban, parent_km.area, style, rng)
    sites, weights = fit_power_diagram(parent_km, targets, urban, to_km(centre_ll), rng)
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
    anchors = cell_anchors(shapely.transform(cells, lambda xy: to_lonlat(xy + origin)), parent)
    starts, ends, edge_pairs, pieces = clipped_edges(parent, pairs, segments + origin)
    lines = bend_edges(parent, starts, ends, edge_pairs, anchors, style, rng)
    faces = polygon_faces(parent, np.concatenate([lines, np.asarray(pieces, dtype=object)]))
    owner = face_owners(faces, anchors)
    return anchors, children_geoms(faces, owner, len(sizes))


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
        unit_rng(seed, code),
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
            unit_rng(seed, town_code),
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
        :func:`check_partition`.
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
    check_partition(gdf, src.divisions)
    return gdf


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
