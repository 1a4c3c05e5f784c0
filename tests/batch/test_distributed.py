"""The Dask lookup gives exactly what the single-process lookup gives, on a real LocalCluster."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from batch.run import ADDED_COLUMNS, lookup_file
from boundaries.bundled import index_from_frame, load_taian

distributed = pytest.importorskip("distributed")
dask_geopandas = pytest.importorskip("dask_geopandas")

from batch.distributed import (  # noqa: E402 - after the importorskip guards
    BoundarySet,
    cached_index_keys,
    lookup_dask,
    lookup_file_dask,
)

N_INSIDE = 20_000
N_VERTICES = 4_000


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return load_taian()


@pytest.fixture(scope="module")
def index(frame):
    return index_from_frame(frame)


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def _points(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """~24k rows: uniform over the city's box (inside, snapped, outside), community vertices
    (shared edges), far-away points and every kind of invalid row, shuffled."""
    rng = np.random.default_rng(2023)
    minx, miny, maxx, maxy = frame.total_bounds
    pad = 0.02
    lon = rng.uniform(minx - pad, maxx + pad, N_INSIDE)
    lat = rng.uniform(miny - pad, maxy + pad, N_INSIDE)
    communities = frame.loc[frame["level"] == "community", "geometry"].to_numpy()
    vertices = shapely.get_coordinates(communities)
    pick = vertices[rng.integers(0, len(vertices), N_VERTICES)]
    far = np.column_stack([rng.uniform(120, 121, 200), rng.uniform(30, 31, 200)])
    lon_text = [repr(float(v)) for v in np.concatenate([lon, pick[:, 0], far[:, 0]])]
    lat_text = [repr(float(v)) for v in np.concatenate([lat, pick[:, 1], far[:, 1]])]
    bad = [
        ("abc", "36.2"),
        ("", "36.2"),
        ("117.1", "95"),
        ("nan", "36.2"),
        ("36.19", "117.1"),
        ("1e400", "1"),
    ]
    for i in range(60):
        x, y = bad[i % len(bad)]
        lon_text.append(x)
        lat_text.append(y)
    n = len(lon_text)
    table = pd.DataFrame(
        {
            "id": [f"{i:07d}" for i in range(n)],
            "name": [f'点 {i}, "q"' if i % 7 == 0 else f"p{i}" for i in range(n)],
            "lon": lon_text,
            "lat": lat_text,
        }
    )
    return table.iloc[rng.permutation(n)].reset_index(drop=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, frame) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dask-inputs")
    table = _points(frame)
    csv = folder / "points.csv"
    table.to_csv(csv, index=False)
    x = pd.to_numeric(table["lon"], errors="coerce").to_numpy()
    y = pd.to_numeric(table["lat"], errors="coerce").to_numpy()
    geometry = shapely.points(x, y)
    geometry[~(np.isfinite(x) & np.isfinite(y))] = None  # missing geometry: invalid rows
    geometry[3] = shapely.box(117.0, 36.0, 117.01, 36.01)  # not a point: invalid
    spatial = gpd.GeoDataFrame(table[["id", "name"]], geometry=geometry, crs=4326)
    parquet = folder / "points.parquet"
    spatial.to_parquet(parquet, row_group_size=7_000)
    return {"csv": csv, "parquet": parquet}


def _same_summary(ours, theirs) -> None:
    assert ours.rows == theirs.rows
    assert ours.counts_by_status == theirs.counts_by_status
    assert ours.invalid_rows == theirs.invalid_rows
    assert ours.replaced_columns == theirs.replaced_columns
    assert ours.crs == theirs.crs
    assert ours.seconds > 0


def test_csv_identical_to_single_process(cluster, inputs, index, tmp_path):
    _, client = cluster
    single = lookup_file(index, inputs["csv"], tmp_path / "single.csv")
    calls: list[tuple[int, int, int]] = []
    summary = lookup_file_dask(
        inputs["csv"],
        tmp_path / "dask.csv",
        scheduler=client,
        chunk_rows=5_000,
        progress=lambda *args: calls.append(args),
    )
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()
    _same_summary(summary, single)
    # The input really has every kind of row.
    for status in ("ok", "boundary", "snapped", "outside", "invalid"):
        assert summary.counts_by_status[status] > 0, status
    assert summary.rows > 24_000
    size = inputs["csv"].stat().st_size
    assert len(calls) >= 5
    assert calls[-1] == (summary.rows, size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_geoparquet_identical_via_scheduler_address(cluster, inputs, index, tmp_path):
    local, _ = cluster
    single = lookup_file(index, inputs["parquet"], tmp_path / "single.parquet")
    summary = lookup_file_dask(
        inputs["parquet"],
        tmp_path / "dask.parquet",
        scheduler=local.scheduler_address,  # a "tcp://127.0.0.1:port" string
        partitions=5,
    )
    ours, theirs = pq.read_table(tmp_path / "dask.parquet"), pq.read_table(tmp_path / "single.parquet")
    assert ours.schema.equals(theirs.schema, check_metadata=True)
    assert ours.equals(theirs)
    _same_summary(summary, single)
    assert summary.counts_by_status["invalid"] > 0


def test_csv_to_geoparquet_and_parquet_to_csv(cluster, inputs, index, tmp_path):
    _, client = cluster
    for source, target in ((inputs["csv"], "out.parquet"), (inputs["parquet"], "out.csv")):
        single = lookup_file(index, source, tmp_path / f"single-{target}")
        summary = lookup_file_dask(source, tmp_path / f"dask-{target}", scheduler=client, partitions=3)
        ours, theirs = tmp_path / f"dask-{target}", tmp_path / f"single-{target}"
        if target.endswith(".csv"):
            assert ours.read_bytes() == theirs.read_bytes()
        else:  # row groups follow the partitions, so compare the data, not the bytes
            assert pq.read_table(ours).equals(pq.read_table(theirs))
            assert pq.read_schema(ours).equals(pq.read_schema(theirs), check_metadata=True)
        _same_summary(summary, single)


def test_index_built_once_per_worker(cluster, inputs, frame, tmp_path):
    _, client = cluster
    for i in range(2):
        lookup_file_dask(inputs["csv"], tmp_path / f"again{i}.csv", scheduler=client, partitions=6)
    keys = client.run(cached_index_keys)
    assert len(keys) == 2
    expected = f"{BoundarySet.from_frame(frame).key}:50.0"
    assert all(worker_keys == [expected] for worker_keys in keys.values())


def test_lookup_dask_on_dask_geopandas_frame(cluster, inputs, index, tmp_path):
    _, client = cluster
    lookup_file(index, inputs["parquet"], tmp_path / "single.parquet")
    expected = gpd.read_parquet(tmp_path / "single.parquet")
    points = dask_geopandas.from_geopandas(gpd.read_parquet(inputs["parquet"]), npartitions=4)
    result = client.compute(lookup_dask(points)).result()
    assert list(result.columns) == ["id", "name", "geometry", *ADDED_COLUMNS]
    assert len(result) == len(expected)
    for column in ("id", "name", *ADDED_COLUMNS):
        pd.testing.assert_series_equal(
            result[column].reset_index(drop=True), expected[column], check_dtype=False, check_names=False
        )


def test_lookup_dask_on_text_columns(cluster, inputs, index, tmp_path):
    import dask.dataframe as dd

    _, client = cluster
    lookup_file(index, inputs["csv"], tmp_path / "single.csv")
    expected = pd.read_csv(tmp_path / "single.csv", dtype=str, keep_default_na=False)
    text = pd.read_csv(inputs["csv"], dtype=str, keep_default_na=False)
    result = client.compute(lookup_dask(dd.from_pandas(text, npartitions=3))).result()
    assert list(result.columns) == ["id", "name", "lon", "lat", *ADDED_COLUMNS]
    for column in ("status", "community_code", "district_code", "candidates", "error"):
        ours = (
            result[column].reset_index(drop=True).astype(object).where(result[column].notna().to_numpy(), "")
        )
        assert ours.tolist() == expected[column].tolist(), column
