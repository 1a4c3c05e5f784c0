"""Batch lookup of 1M points: siji against geopandas.sjoin, exactness against covers."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import shapely


@dataclass
class Figure:
    name: str
    seconds: float
    points: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.points / self.seconds if self.seconds else float("inf")


def _best_of(repeats: int, func):  # type: ignore[no-untyped-def]
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(n: int = 1_000_000, repeats: int = 3) -> tuple[list[Figure], dict[str, object]]:
    import geopandas as gpd

    from benchmarks.points import random_points
    from boundaries.bundled import index_from_frame, load_taian

    frame = load_taian()
    communities = frame[frame["level"] == "community"].reset_index(drop=True)
    city = frame.loc[frame["level"] == "city", "geometry"].iloc[0]
    build_s, index = _best_of(1, lambda: index_from_frame(frame))
    x, y = random_points(city, communities.geometry.values, n)

    ours_s, result = _best_of(repeats, lambda: index.lookup(x, y))
    ours1_s, _ = _best_of(repeats, lambda: index.lookup(x, y, threads=1))
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4326)
    sjoin_s, joined = _best_of(
        1, lambda: gpd.sjoin(points, communities[["code", "geometry"]], predicate="within", how="left")
    )

    # Exactness: the oracle is covers on every community (edges and vertices included).
    tree = shapely.STRtree(communities.geometry.values)
    p_idx, c_idx = tree.query(shapely.points(x, y), predicate="intersects")
    codes = communities["code"].to_numpy()
    oracle = np.full(n, None, dtype=object)
    order = np.lexsort((codes[c_idx], p_idx))
    p_sorted, c_sorted = p_idx[order], c_idx[order]
    first = np.ones(len(p_sorted), dtype=bool)
    first[1:] = p_sorted[1:] != p_sorted[:-1]
    oracle[p_sorted[first]] = codes[c_sorted[first]]
    ours = result.columns()["community_code"]
    inside = oracle != None  # noqa: E711 - element-wise on an object array
    mismatches = int((ours[inside] != oracle[inside]).sum())
    boundary = int((result.status_names() == "boundary").sum())
    figures = [
        Figure("siji index build", build_s, len(frame), f"{index.nbytes / 2**20:.1f} MiB of rasters"),
        Figure("siji batch, 4 levels (threads=auto)", ours_s, n),
        Figure("siji batch, 4 levels (1 thread)", ours1_s, n),
        Figure("geopandas.sjoin within, 1 level", sjoin_s, n),
    ]
    facts: dict[str, object] = {
        "points": n,
        "on shared edges/vertices (status boundary)": boundary,
        "mismatches against covers": mismatches,
        "sjoin rows (within drops edge points)": int(joined["code"].notna().sum()),
        "speed-up vs sjoin": ours_s and sjoin_s / ours_s,
    }
    return figures, facts
