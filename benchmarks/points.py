"""Benchmark points: seeded, uniform inside the city, plus a share on edges and vertices."""

from __future__ import annotations

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
