"""Benchmark points, seeded: the *inside* mix (uniform inside the city, 1 % on community
vertices) and the *spread* mix (uniform over the city's bounding box with a 0.1-degree
margin: about a third inside, the rest outside or near the edge, as a data team's GPS
records are)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely


def random_points(
    city: shapely.Geometry, communities: np.ndarray, n: int, seed: int = 7, on_edges: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points: uniform inside ``city``, a fraction ``on_edges`` exactly on
    community vertices (the hardest case for an exact engine)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = city.bounds
    shapely.prepare(city)
    n_edge = int(n * on_edges)
    xs, ys = [], []
    need = n - n_edge
    while need > 0:
        x = rng.uniform(minx, maxx, need * 2)
        y = rng.uniform(miny, maxy, need * 2)
        inside = shapely.contains_xy(city, x, y)
        xs.append(x[inside][:need])
        ys.append(y[inside][:need])
        need -= len(xs[-1])
    vertices = shapely.get_coordinates(communities)
    pick = rng.integers(0, len(vertices), n_edge)
    x = np.concatenate([*xs, vertices[pick, 0]])
    y = np.concatenate([*ys, vertices[pick, 1]])
    order = rng.permutation(n)
    return x[order], y[order]


SPREAD_MARGIN_DEG = 0.1


def spread_points(city: shapely.Geometry, n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform over ``city``'s bounding box grown by 0.1 degrees."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = city.bounds
    m = SPREAD_MARGIN_DEG
    return rng.uniform(minx - m, maxx + m, n), rng.uniform(miny - m, maxy + m, n)


@dataclass
class Workload:
    """The bundled set and the benchmark points, made once per run and shared by the modules.

    Attributes
    ----------
    frame : GeoDataFrame
        The bundled Tai'an set (all four levels).
    communities : GeoDataFrame
        Its community level, in frame order.
    x, y : ndarray of float64
        The inside mix (WGS84).
    sx, sy : ndarray of float64
        The spread mix (WGS84), as many points.
    """

    frame: Any
    communities: Any
    x: np.ndarray
    y: np.ndarray
    sx: np.ndarray
    sy: np.ndarray

    @property
    def n(self) -> int:
        return len(self.x)

    def mixes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"inside": (x, y), "spread": (sx, sy)}``."""
        return {"inside": (self.x, self.y), "spread": (self.sx, self.sy)}


def workload(n: int, seed: int = 7) -> Workload:
    """``n`` benchmark points over the bundled Tai'an set (see :func:`random_points`)."""
    from boundaries.bundled import load_taian

    frame = load_taian()
    communities = frame[frame["level"] == "community"].reset_index(drop=True)
    city = frame.loc[frame["level"] == "city", "geometry"].iloc[0]
    x, y = random_points(city, communities.geometry.values, n, seed=seed)
    sx, sy = spread_points(city, n, seed=seed + 4)
    return Workload(frame, communities, x, y, sx, sy)
