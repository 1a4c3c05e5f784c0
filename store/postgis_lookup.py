"""The lookup done inside PostGIS, with the in-memory engine's semantics.

Points are copied into a temporary table with a GiST index; each level is then
joined polygon-first: the subdivided pieces (``ST_Subdivide``, GiST-indexed) find
candidate points through their small bounding boxes, and the exact test is
``ST_Intersects`` (for a point, the same as ``ST_Covers``) on the unit's whole
polygon.  The exact test is not done on the pieces themselves because subdivision
cuts edges at computed, rounded coordinates: a point exactly on an original edge can
fall a rounding error outside both pieces, and the answer must be exact.

Ties on shared edges go to the lowest code, gaps to the finest covering level, and
points covered by nothing snap to the nearest leaf unit within the snap distance
(geodesic metres), exactly as :mod:`geo.index` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine, text

from geo.index import (
    BOUNDARY,
    GAP,
    OK,
    OUTSIDE,
    SNAPPED,
    LookupResult,
    UnitTable,
    candidates_csr,
)
from geo.levels import LEVEL_KEYS

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

_LEVEL_JOIN = text(
    """
    SELECT DISTINCT p.id, u.code
    FROM unit_pieces s
    JOIN siji_points p ON s.geom && p.geom
    JOIN units u ON u.id = s.unit_id
    JOIN unit_geometries g ON g.unit_id = s.unit_id
    WHERE s.generation_id = :gid AND s.level = :level AND p.done = false
      AND ST_Intersects(g.geom, p.geom)
    """
)
_SNAP = text(
    """
    WITH leaves AS MATERIALIZED (
        SELECT u.code, g.geom
        FROM units u JOIN unit_geometries g ON g.unit_id = u.id
        WHERE u.generation_id = :gid
          AND NOT EXISTS (
              SELECT 1 FROM units c WHERE c.generation_id = u.generation_id AND c.parent_code = u.code
          )
    )
    SELECT p.id, n.code, n.distance
    FROM siji_points p
    CROSS JOIN LATERAL (
        SELECT l.code, ST_Distance(l.geom::geography, p.geom::geography) AS distance
        FROM leaves l
        -- the degree box is a generous index filter; the geodesic test decides
        WHERE l.geom && ST_Expand(p.geom, :box_deg)
          AND ST_DWithin(l.geom::geography, p.geom::geography, :snap)
        ORDER BY distance, l.code
        LIMIT 1
    ) n
    WHERE p.done = false
    """
)


@dataclass(slots=True)
class PostGISAnswer:
    """Raw answers: per point the resolving level, the covering codes and any snap."""

    level: NDArray[np.int8]  # rank of the resolving level, -1 when nothing covers
    codes: list[list[str]]  # covering codes at that level, sorted (one when snapped)
    distance_m: NDArray[np.float64]
    snapped: NDArray[np.bool_]


def lookup_postgis(
    engine: Engine,
    generation_id: int,
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    snap_distance_m: float,
) -> PostGISAnswer:
    """Look up WGS84 points inside the database against one generation."""
    n = len(lon)
    level = np.full(n, -1, dtype=np.int8)
    codes: list[list[str]] = [[] for _ in range(n)]
    distance = np.full(n, np.nan)
    snapped = np.zeros(n, dtype=bool)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        conn.execute(
            text(
                "CREATE TEMP TABLE siji_points (id integer PRIMARY KEY, x float8, y float8, "
                "geom geometry(Point, 4326), done boolean NOT NULL DEFAULT false) ON COMMIT DROP"
            )
        )
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy("COPY siji_points (id, x, y) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for i in range(n):
                copy.write_row((i, float(lon[i]), float(lat[i])))
        conn.execute(text("UPDATE siji_points SET geom = ST_SetSRID(ST_MakePoint(x, y), 4326)"))
        conn.execute(text("CREATE INDEX ON siji_points USING gist (geom)"))
        conn.execute(text("ANALYZE siji_points"))
        for rank in range(len(LEVEL_KEYS) - 1, -1, -1):
            rows = conn.execute(_LEVEL_JOIN, {"gid": generation_id, "level": LEVEL_KEYS[rank]}).all()
            if not rows:
                continue
            found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            for point, code in rows:
                codes[point].append(code)
            level[found] = rank
            conn.execute(
                text("UPDATE siji_points SET done = true WHERE id = ANY(:ids)"),
                {"ids": np.unique(found).tolist()},
            )
        if snap_distance_m > 0:
            # A degree of latitude is >= 110.5 km; of longitude at |lat| <= 60, >= 55 km.
            snap_args = {"gid": generation_id, "snap": snap_distance_m, "box_deg": snap_distance_m / 55_000.0}
            for point, code, dist in conn.execute(_SNAP, snap_args).all():
                codes[point] = [code]
                distance[point] = dist
                snapped[point] = True
    for entry in codes:
        entry.sort()
    return PostGISAnswer(level, codes, distance, snapped)


def to_result(answer: PostGISAnswer, units: UnitTable) -> LookupResult:
    """Turn raw PostGIS answers into the in-memory engine's :class:`LookupResult`.

    ``units`` must be the unit table of the same generation (its rows give codes,
    names and parents).
    """
    n = len(answer.level)
    finest = int(units.ranks.max())
    resolved = np.full(n, -1, dtype=np.int32)
    status = np.full(n, OUTSIDE, dtype=np.uint8)
    cand_point: list[int] = []
    cand_row: list[int] = []
    row_of = units.row_of_code
    for i, codes in enumerate(answer.codes):
        if not codes:
            continue
        rows = [row_of[c] for c in codes]
        rank = int(units.ranks[rows[0]])
        resolved[i] = rows[0]  # codes are sorted: the lowest code wins
        if answer.snapped[i]:
            status[i] = SNAPPED
        elif len(rows) > 1:
            status[i] = BOUNDARY
            cand_point.extend([i] * len(rows))
            cand_row.extend(rows)
        else:
            status[i] = OK if rank == finest else GAP
    offsets, candidate_rows = candidates_csr(
        n, [np.asarray(cand_point, dtype=np.intp)], [np.asarray(cand_row, dtype=np.int32)]
    )
    return LookupResult(units, units.unit_rows(resolved), status, answer.distance_m, offsets, candidate_rows)


class PostGISIndex:
    """A stand-in for :class:`geo.index.JurisdictionIndex` whose lookups run in PostGIS.

    It satisfies :class:`geo.index.Locator`, so :func:`geo.locate.locate` and the
    batch driver use it unchanged (CRS conversion and input checks stay in Python).
    """

    def __init__(self, engine: Engine, generation_id: int, units: UnitTable, snap_distance_m: float) -> None:
        self.engine = engine
        self.generation_id = generation_id
        self.units = units
        self.snap_distance_m = snap_distance_m

    def lookup(self, lon: ArrayLike, lat: ArrayLike, *, threads: int | None = None) -> LookupResult:
        """Look up WGS84 points (``threads`` is accepted for compatibility and ignored)."""
        x = np.ascontiguousarray(lon, dtype=np.float64).ravel()
        y = np.ascontiguousarray(lat, dtype=np.float64).ravel()
        finite = np.isfinite(x) & np.isfinite(y)
        # Non-finite rows never reach SQL; they stay "outside" here (locate marks them invalid).
        answer = lookup_postgis(
            self.engine,
            self.generation_id,
            np.where(finite, x, 0.0),
            np.where(finite, y, 0.0),
            self.snap_distance_m,
        )
        for i in np.flatnonzero(~finite):
            answer.codes[i] = []
            answer.snapped[i] = False
            answer.distance_m[i] = np.nan
        return to_result(answer, self.units)
