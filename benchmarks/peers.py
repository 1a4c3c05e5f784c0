"""The spatial engines a data team would pick today, on the same points: DuckDB spatial
and SedonaDB.

Both run in this process with the data already in memory (points and community
polygons loaded into each engine before timing), 2 threads (the machine's cores),
best of ``repeats``: the statement timed is the point-in-polygon left join that gives
each point its community (``ST_Intersects``, which includes edges, as siji's
``covers``), collected as Arrow.  That is one level against siji's four.

They are an optional extra (``pip install -e '.[bench]'``, which ``make bench``
does), not runtime dependencies.  DuckDB's spatial extension is loaded from the
``duckdb-ext-spatial`` wheel's file (``LOAD '<path>'``) with extension auto-install
and auto-load off, so nothing is fetched from the network.  A peer that is not
installed is reported as skipped, with the install hint.
"""

from __future__ import annotations

import glob
import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.report import Row, best_of

if TYPE_CHECKING:
    from benchmarks.points import Workload

INSTALL_HINT = "pip install -e '.[bench]' (make bench does)"
THREADS = 2


@dataclass
class PeerOutcome:
    """Points/s per peer and mix (``rates["duckdb"]["spread"]``), and why a peer was skipped."""

    rates: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)


def spatial_extension_path() -> str:
    """The spatial extension file shipped in the ``duckdb-ext-spatial`` wheel.

    Raises
    ------
    ModuleNotFoundError
        The wheel is not installed.
    """
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("duckdb-ext-spatial is not installed")
    import duckdb

    root = next(iter(spec.submodule_search_locations))
    found = sorted(glob.glob(f"{root}/extensions/v{duckdb.__version__}/*/spatial.duckdb_extension"))
    if not found:
        raise ModuleNotFoundError(f"no spatial extension for DuckDB {duckdb.__version__} under {root}")
    return found[0]


def _duckdb(work: Workload, repeats: int) -> tuple[dict[str, float], str]:
    import duckdb
    import pyarrow as pa
    import shapely

    con = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    con.execute(f"LOAD '{spatial_extension_path()}'")
    con.execute(f"SET threads = {THREADS}")
    communities = work.communities
    polygons = pa.table(
        {"code": communities["code"].to_numpy(), "wkb": shapely.to_wkb(communities.geometry.values)}
    )
    con.register("polygons_arrow", polygons)
    con.execute("CREATE TABLE polygons AS SELECT code, ST_GeomFromWKB(wkb) AS geom FROM polygons_arrow")
    rates = {}
    for mix, (x, y) in work.mixes().items():
        con.register("points_arrow", pa.table({"id": np.arange(len(x)), "x": x, "y": y}))
        con.execute("CREATE OR REPLACE TABLE points AS SELECT id, ST_Point(x, y) AS geom FROM points_arrow")
        sql = "SELECT p.id, c.code FROM points p LEFT JOIN polygons c ON ST_Intersects(c.geom, p.geom)"
        seconds, _ = best_of(repeats, lambda sql=sql: con.execute(sql).fetch_arrow_table())
        rates[mix] = len(x) / seconds
    return rates, f"DuckDB {duckdb.__version__} + spatial (from the wheel's file)"


def _sedonadb(work: Workload, repeats: int) -> tuple[dict[str, float], str]:
    import geopandas as gpd
    import pyarrow as pa
    import sedonadb

    sd = sedonadb.connect()
    sd.sql(f"SET datafusion.execution.target_partitions = {THREADS}").execute()
    communities = work.communities
    sd.create_data_frame(
        gpd.GeoDataFrame({"code": communities["code"]}, geometry=communities.geometry.values, crs=4326)
    ).to_view("polygons", overwrite=True)
    rates = {}
    for mix, (x, y) in work.mixes().items():
        points = gpd.GeoDataFrame({"id": np.arange(len(x))}, geometry=gpd.points_from_xy(x, y), crs=4326)
        sd.create_data_frame(points).to_view("points", overwrite=True)
        query = sd.sql(
            "SELECT p.id, c.code FROM points p LEFT JOIN polygons c ON ST_Intersects(c.geometry, p.geometry)"
        )
        # The Arrow stream, collected: to_arrow_table() wants geoarrow-pyarrow for
        # geometry columns, and this answer has none.
        seconds, _ = best_of(repeats, lambda query=query: pa.RecordBatchReader.from_stream(query).read_all())
        rates[mix] = len(x) / seconds
    return rates, f"SedonaDB {getattr(sedonadb, '__version__', '?')}"


def run(work: Workload, repeats: int = 3) -> PeerOutcome:
    """Time both peers on both mixes; a peer that is not installed is skipped."""
    outcome = PeerOutcome()
    peers: dict[str, Any] = {"DuckDB spatial": _duckdb, "SedonaDB": _sedonadb}
    for name, measure in peers.items():
        try:
            rates, version = measure(work, repeats)
        except ModuleNotFoundError as exc:
            outcome.skipped[name] = f"{exc}; {INSTALL_HINT}"
            continue
        outcome.rates[name] = rates
        for mix, rate in rates.items():
            outcome.rows.append(
                Row(
                    "batch",
                    f"{name} ST_Intersects left join, 1 level, {THREADS} threads, {mix} mix",
                    rate,
                    "points/s",
                    work.n / rate,
                    note=f"{version}; data in memory, best of {repeats}",
                )
            )
    return outcome
