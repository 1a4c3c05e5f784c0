"""The lookup done inside PostGIS, with the in-memory engine's semantics.

Points are copied into a temporary table with a GiST index; each level is then
joined polygon-first: the subdivided pieces (``ST_Subdivide``, GiST-indexed) find
candidate points through their small bounding boxes, and the exact test is
``ST_Intersects`` (for a point, the same as ``ST_Covers``) on the unit's whole
polygon.  The exact test is not done on the pieces themselves because subdivision
cuts edges at computed, rounded coordinates: a point exactly on an original edge can
fall a rounding error outside both pieces, and the answer must be exact.

Ties on shared edges go to the lowest code, gaps to the finest covering level, and
points covered by nothing snap to the nearest leaf unit within the snap distance,
measured by the same rule as :mod:`geo.snap` (metres on the set's transverse Mercator
plane, the same PROJ string), so the two engines agree at the limit.  Snapping finds
its candidates through the pieces' GiST index.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, Engine, text

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
from geo.snap import snap_projection

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
# Points no unit covers, snapped by the in-memory engine's rule (geo.snap): metres on
# the set's transverse Mercator plane (the same PROJ string, registered as :srid, see
# _snap_srid), nearest leaf unit, lowest code on ties.  Set-based and driven by the
# leaf pieces, as the level joins are: each piece finds the points within :box_deg
# degrees through the points' GiST index (a planar distance in degrees of at most the
# snap distance / 55 km, true of any point within the snap distance below 60 degrees
# of latitude), so points far from every unit cost nothing here.  The distance to a
# unit is the least over its pieces, which is the distance to the unit for a point
# outside it (subdivision cuts inside the polygon).
_SNAP = text(
    """
    WITH near AS (
        SELECT p.id, u.code,
               min(ST_Distance(ST_Transform(s.geom, :srid), ST_Transform(p.geom, :srid))) AS distance
        FROM unit_pieces s
        JOIN units u ON u.id = s.unit_id
        CROSS JOIN LATERAL (
            SELECT q.id, q.geom FROM siji_points q
            WHERE NOT q.done AND ST_DWithin(s.geom, q.geom, :box_deg)
        ) p
        WHERE s.generation_id = :gid
          AND NOT EXISTS (
              SELECT 1 FROM units c WHERE c.generation_id = :gid AND c.parent_code = u.code
          )
        GROUP BY p.id, u.code
    )
    SELECT DISTINCT ON (id) id, code, distance
    FROM near
    WHERE distance <= :snap
    ORDER BY id, distance, code
    """
)


@dataclass(slots=True)
class PostGISAnswer:
    """Raw answers: per point the resolving level, the covering codes and any snap."""

    level: NDArray[np.int8]  # rank of the resolving level, -1 when nothing covers
    # By point, for points with any: the covering codes at that level, sorted (one when snapped).
    codes: dict[int, list[str]]
    distance_m: NDArray[np.float64]
    snapped: NDArray[np.bool_]


def lookup_postgis(
    engine: Engine,
    generation_id: int,
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    snap_distance_m: float,
    snap_projection: str | None = None,
) -> PostGISAnswer:
    """Look up WGS84 points inside the database against one generation.

    ``snap_projection`` is the plane snap distances are measured in
    (:func:`geo.snap.snap_projection` of the set's bounds, as the in-memory index uses);
    by default it is made from the generation's bounds, read from the database.
    """
    n = len(lon)
    level = np.full(n, -1, dtype=np.int8)
    codes: dict[int, list[str]] = {}
    distance = np.full(n, np.nan)
    snapped = np.zeros(n, dtype=bool)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        # JIT compiled the snap query for 0.4 s, to save microseconds.
        conn.execute(text("SET LOCAL jit = off"))
        # Ids are given by COPY's row order (an identity from 0).
        conn.execute(
            text(
                "CREATE TEMP TABLE siji_points (id integer GENERATED ALWAYS AS IDENTITY (MINVALUE 0 START 0) "
                "PRIMARY KEY, geom geometry(Point, 4326), done boolean NOT NULL DEFAULT false) ON COMMIT DROP"
            )
        )
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy("COPY siji_points (geom) FROM STDIN") as copy:  # type: ignore[attr-defined]
            copy.write(_ewkb_lines(lon, lat))
        conn.execute(text("CREATE INDEX ON siji_points USING gist (geom)"))
        conn.execute(text("ANALYZE siji_points"))
        for rank in range(len(LEVEL_KEYS) - 1, -1, -1):
            rows = conn.execute(_LEVEL_JOIN, {"gid": generation_id, "level": LEVEL_KEYS[rank]}).all()
            if not rows:
                continue
            found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            for point, code in rows:
                codes.setdefault(point, []).append(code)
            level[found] = rank
            conn.execute(
                text("UPDATE siji_points SET done = true WHERE id = ANY(:ids)"),
                {"ids": np.unique(found).tolist()},
            )
        if snap_distance_m > 0:
            projection = snap_projection or _snap_projection(conn, generation_id)
            srid = _snap_srid(conn, projection)
            # A degree of latitude is >= 110.5 km; of longitude at |lat| <= 60, >= 55 km.
            snap_args = {
                "gid": generation_id,
                "snap": snap_distance_m,
                "box_deg": 1.01 * snap_distance_m / 55_000.0,
                "srid": srid,
            }
            for point, code, dist in conn.execute(_SNAP, snap_args).all():
                codes[point] = [code]
                distance[point] = dist
                snapped[point] = True
    for entry in codes.values():
        entry.sort()
    return PostGISAnswer(level, codes, distance, snapped)


SNAP_SRID_BASE = 910_000
"""siji registers each snap plane in ``spatial_ref_sys`` (auth_name ``siji``) with an
SRID from ``SNAP_SRID_BASE`` on: PostGIS caches a transformation by SRID, whereas
``ST_Transform(geom, proj_text)`` set one up on every call (measured: 17 ms a call)."""
_SNAP_SRIDS = 88_000  # up to 997,999: PostGIS allows user SRIDs up to 998,999


def _snap_srid(conn: Connection, projection: str) -> int:
    """The SRID of ``projection`` in ``spatial_ref_sys``, registered if missing.

    The SRID comes from a hash of the PROJ string, so every process and every lookup
    finds the same one; a hash taken by another string is never overwritten (a
    session may have cached it), the next free number is used instead.
    """
    import zlib

    from sqlalchemy.exc import ProgrammingError

    from store.engine import DatabaseUnavailableError

    first = zlib.crc32(projection.encode()) % _SNAP_SRIDS
    for step in range(_SNAP_SRIDS):
        srid = SNAP_SRID_BASE + (first + step) % _SNAP_SRIDS
        held = conn.execute(
            text("SELECT proj4text FROM spatial_ref_sys WHERE srid = :srid"), {"srid": srid}
        ).scalar()
        if held == projection:  # registered before: no privilege needed to use it
            return srid
        if held is not None:  # another plane's: try the next SRID, without writing
            continue
        try:
            conn.execute(
                text(
                    "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
                    "VALUES (:srid, 'siji', :srid, '', :proj) ON CONFLICT (srid) DO NOTHING"
                ),
                {"srid": srid, "proj": projection},
            )
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501":
                raise
            url = conn.engine.url
            role = url.username or "<the role siji connects as>"
            raise DatabaseUnavailableError(
                f"the database role {role!r} may not register siji's snap plane in spatial_ref_sys of "
                f"database {url.database!r} (a table of the postgis extension, owned by the superuser who "
                f"created it); as that superuser, once: GRANT INSERT ON spatial_ref_sys TO {role}; "
                "or use --engine memory",
                table="spatial_ref_sys",
                role=role,
            ) from exc
        held = conn.execute(text("SELECT proj4text FROM spatial_ref_sys WHERE srid = :srid"), {"srid": srid})
        if held.scalar() == projection:
            return srid
    raise RuntimeError("no free SRID for siji's snap plane in spatial_ref_sys")


_EWKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _ewkb_lines(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> bytes:
    """One line of hex EWKB per point (SRID 4326), the coordinates' bits as they are:
    25 bytes a point laid out by numpy, one hexlify for them all (measured 6 µs a point
    through shapely's points, set_srid and to_wkb)."""
    points = np.empty(len(lon), dtype=_EWKB_POINT)
    points["order"] = 1  # little-endian
    points["type"] = 0x20000001  # Point, with an SRID
    points["srid"] = 4326
    points["x"] = lon
    points["y"] = lat
    rows = np.frombuffer(binascii.hexlify(points.tobytes()), dtype=f"S{2 * _EWKB_POINT.itemsize}")
    return b"\n".join(rows.tolist()) + b"\n" if len(rows) else b""


def _snap_projection(conn: Connection, generation_id: int) -> str:
    """:func:`geo.snap.snap_projection` of the generation's bounds (all its units)."""
    bounds = conn.execute(
        text(
            "SELECT min(ST_XMin(g.geom)), min(ST_YMin(g.geom)), max(ST_XMax(g.geom)), max(ST_YMax(g.geom)) "
            "FROM units u JOIN unit_geometries g ON g.unit_id = u.id WHERE u.generation_id = :gid"
        ),
        {"gid": generation_id},
    ).one()
    return snap_projection(tuple(float(v) for v in bounds))


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
    for i, codes in answer.codes.items():
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

    def __init__(
        self,
        engine: Engine,
        generation_id: int,
        units: UnitTable,
        snap_distance_m: float,
        bounds: tuple[float, float, float, float] | None = None,
    ) -> None:
        self.engine = engine
        self.generation_id = generation_id
        self.units = units
        self.snap_distance_m = snap_distance_m
        self.bounds = bounds
        """The set's bounds (WGS84): the swap check's first test, and the snap plane's
        centre (None: read from the database)."""

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
            None if self.bounds is None else snap_projection(self.bounds),
        )
        for i in np.flatnonzero(~finite):
            answer.codes.pop(int(i), None)
            answer.snapped[i] = False
            answer.distance_m[i] = np.nan
        return to_result(answer, self.units)
