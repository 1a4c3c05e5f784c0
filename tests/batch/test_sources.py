"""Less common inputs: GeoArrow point encoding, CRS84 metadata, .json, nameless uploads, in place."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from batch import PointReader, ResultWriter, iter_chunks, lookup_file
from batch.points import point_wkb
from geo.errors import InvalidInputError
from tests.batch.conftest import ROWS, STATUSES, write_input


def test_geoparquet_with_geoarrow_point_encoding(index, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"]},
        geometry=[shapely.Point(117.05, 36.1), None, shapely.Point(117.15, 36.1)],
        crs="EPSG:4326",
    )
    source = tmp_path / "native.parquet"
    frame.to_parquet(source, geometry_encoding="geoarrow")
    target = tmp_path / "out.parquet"

    lookup_file(index, source, target)

    out = gpd.read_parquet(target)
    assert out["status"].tolist() == ["ok", "invalid", "ok"]
    assert out.geometry.iloc[2].equals(shapely.Point(117.15, 36.1))


def test_geoparquet_without_crs_key_means_crs84(index, tmp_path: Path) -> None:
    table = pa.table(
        {"id": ["a"], "geometry": point_wkb(pa.array([117.05]).to_numpy(), pa.array([36.1]).to_numpy())}
    )
    geo = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB"}}}
    source = tmp_path / "crs84.parquet"
    pq.write_table(table.replace_schema_metadata({"geo": json.dumps(geo)}), source)

    summary = lookup_file(index, source, tmp_path / "out.csv")

    assert summary.crs == "wgs84"
    assert summary.counts_by_status["ok"] == 1


def test_json_extension_is_geojson(index, tmp_path: Path) -> None:
    source = write_input(tmp_path, "geojson").rename(tmp_path / "input.json")
    target = tmp_path / "out.json"

    lookup_file(index, source, target)

    assert json.loads(target.read_text())["type"] == "FeatureCollection"
    assert gpd.read_file(target)["status"].tolist() == STATUSES


@pytest.mark.filterwarnings("ignore:File .* has GPKG application_id, but non conformant file extension")
def test_nameless_upload_with_format_override(index, tmp_path: Path) -> None:
    upload = write_input(tmp_path, "gpkg").rename(tmp_path / "upload-3f9a")
    target = tmp_path / "result-3f9a"

    lookup_file(index, upload, target, input_format="gpkg", output_format="csv")

    assert pd.read_csv(target, dtype=str)["status"].tolist() == STATUSES
    assert [len(c) for c in iter_chunks(upload, "gpkg", chunk_rows=5)] == [5, 4]
    with pytest.raises(InvalidInputError, match="unknown format 'xls'"):
        PointReader(upload, "xls")


def test_in_place_lookup(index, tmp_path: Path) -> None:
    path = write_input(tmp_path, "csv")

    lookup_file(index, path, path)

    assert pd.read_csv(path, dtype=str)["status"].tolist() == STATUSES
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "parquet"])
def test_progress_for_spatial_inputs(index, tmp_path: Path, fmt: str) -> None:
    source = write_input(tmp_path, fmt)
    calls: list[tuple[int, int, int]] = []

    lookup_file(index, source, tmp_path / "out.csv", chunk_rows=4, progress=lambda *a: calls.append(a))

    assert [c[0] for c in calls] == [4, 8, 9, 9]
    assert all(0 <= done <= total == source.stat().st_size for _, done, total in calls)
    assert calls[-1][1] == calls[-1][2]


@pytest.mark.parametrize("ext", [".gpkg", ".geojson"])
def test_writer_abort_stops_the_gdal_thread(tmp_path: Path, ext: str) -> None:
    target = tmp_path / f"out{ext}"
    table = pa.table({"id": [str(i) for i in range(1000)]})
    geometry = point_wkb(pa.array([117.0] * 1000).to_numpy(), pa.array([36.0] * 1000).to_numpy())

    def write_then_fail() -> None:
        with ResultWriter(target, crs="EPSG:4326") as writer:
            for _ in range(5):
                writer.write(table, geometry)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        write_then_fail()

    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name == "siji-gdal-writer"]


def test_rows_count_matches(index, tmp_path: Path) -> None:
    assert lookup_file(index, write_input(tmp_path, "parquet"), tmp_path / "o.gpkg").rows == len(ROWS)
