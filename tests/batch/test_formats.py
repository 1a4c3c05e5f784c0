"""Every input format to every output format: rows, columns, values, geometry, CRS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from batch import ADDED_COLUMNS, lookup_file
from tests.batch.conftest import FORMAT_EXT, INPUT_CRS, ROWS, STATUSES, read_output, write_input

FORMATS = list(FORMAT_EXT)
IDS = [r[0] for r in ROWS]


def _attribute_columns(fmt_in: str) -> list[str]:
    return ["id", "name", "lon", "lat"] + ([] if fmt_in == "csv" else ["n"])


def _geometry_name(frame: pd.DataFrame) -> str | None:
    return frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None


@pytest.mark.parametrize("fmt_out", FORMATS)
@pytest.mark.parametrize("fmt_in", FORMATS)
def test_round_trip_keeps_rows_columns_and_values(index, tmp_path: Path, fmt_in: str, fmt_out: str) -> None:
    source = write_input(tmp_path, fmt_in)
    target = tmp_path / f"out{FORMAT_EXT[fmt_out]}"

    summary = lookup_file(index, source, target)

    out = read_output(target)
    geometry_name = _geometry_name(out)
    columns = [c for c in out.columns if c != geometry_name]
    expected = _attribute_columns(fmt_in)
    if fmt_out == "csv" and fmt_in != "csv":
        expected = [*expected, "geometry"]  # the input geometry, as WKT
    assert columns == [*expected, *ADDED_COLUMNS]
    assert summary.rows == len(ROWS)
    assert out["id"].astype(str).tolist() == IDS  # same rows, same order, "007" kept as text
    assert out["name"].tolist() == [r[1] for r in ROWS]
    assert out["lon"].tolist() == [r[2] for r in ROWS]
    assert out["status"].tolist() == STATUSES
    assert summary.counts_by_status == {
        "ok": 2, "boundary": 1, "gap": 0, "snapped": 1, "outside": 1, "invalid": 4,
    }  # fmt: skip
    assert out["community_code"].tolist()[:2] == ["370902001001", "370911001001"]
    assert out["district_name"].tolist()[:2] == ["泰山区", "岱岳区"]
    assert out["candidates"].tolist()[2] == "370902001001;370911001001"
    errors = out["error"].fillna("").tolist()
    assert all(errors[i] for i, s in enumerate(STATUSES) if s == "invalid")
    assert not any(errors[i] for i, s in enumerate(STATUSES) if s != "invalid")
    assert [n for n, _ in summary.invalid_rows] == [6, 7, 8, 9]
    if fmt_out != "csv":
        _check_geometry(out, fmt_in)


def _check_geometry(out: gpd.GeoDataFrame, fmt_in: str) -> None:
    geometry = out.geometry.to_numpy()
    if fmt_in == "csv":
        # Points built from x/y in the CSV's CRS (WGS84 by default); none where x/y are unusable.
        assert pyproj.CRS(out.crs).to_epsg() == 4326
        expected = [shapely.Point(float(r[2]), float(r[3])) if r[-1] != "invalid" else None for r in ROWS]
        expected[7] = shapely.Point(117.05, 95.0)  # parsable, just out of range
        expected[8] = shapely.Point(36.1, 117.05)
    else:
        assert pyproj.CRS(out.crs).to_epsg() == 4490  # the input's CRS, not WGS84
        expected = [r[4] for r in ROWS]
    for got, want in zip(geometry, expected, strict=True):
        if want is None or (want.is_empty and want.geom_type == "Point"):
            assert got is None or got.is_empty
        else:
            assert shapely.equals_exact(got, want, tolerance=1e-12), (got, want)


@pytest.mark.parametrize("fmt_in", ["geojson", "gpkg", "parquet"])
def test_x_y_columns_override_the_geometry(index, tmp_path: Path, fmt_in: str) -> None:
    source = write_input(tmp_path, fmt_in)
    target = tmp_path / "out.parquet"

    summary = lookup_file(index, source, target, x_col="LON", y_col="lat")

    out = gpd.read_parquet(target)
    assert summary.points_from == "columns lon/lat"
    assert out["status"].tolist() == STATUSES
    # The input geometry is still written unchanged (including the polygon row).
    assert out.geometry.iloc[7].geom_type == "Polygon"
    assert out.crs.to_epsg() == 4490


def test_csv_keeps_text_exactly(index, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'code,lon,lat,note\n007,117.05,36.1,"line one\nline two"\n0.10,117.15,36.1,""\n', encoding="utf-8"
    )
    target = tmp_path / "out.csv"

    lookup_file(index, source, target)

    out = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert out["code"].tolist() == ["007", "0.10"]
    assert out["note"].tolist() == ["line one\nline two", ""]
    assert out["status"].tolist() == ["ok", "ok"]
    assert out["distance_m"].tolist() == ["", ""]  # NaN is written empty, not "nan"


def test_csv_with_bom_and_default_column_names(index, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("\ufeff编号,经度,纬度\nA,117.05,36.1\n".encode())
    target = tmp_path / "out.csv"

    summary = lookup_file(index, source, target)

    assert summary.points_from == "columns 经度/纬度"
    assert pd.read_csv(target, dtype=str)["编号"].tolist() == ["A"]


def test_csv_in_gb18030_with_encoding(index, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("名称,lon,lat\n泰山,117.05,36.1\n".encode("gb18030"))
    target = tmp_path / "out.csv"

    lookup_file(index, source, target, encoding="gb18030")

    assert pd.read_csv(target, dtype=str)["名称"].tolist() == ["泰山"]


def test_numeric_xy_columns_in_parquet(index, tmp_path: Path) -> None:
    source = tmp_path / "plain.parquet"
    pd.DataFrame({"x": [117.05, np.nan, 117.15], "y": [36.1, 36.1, 36.1], "k": [1, 2, 3]}).to_parquet(source)
    target = tmp_path / "out.csv"

    summary = lookup_file(index, source, target)

    out = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert out["status"].tolist() == ["ok", "invalid", "ok"]
    assert out["error"].tolist()[1] == "x is missing (null)"
    assert summary.points_from == "columns x/y"
    assert out.columns.tolist()[:3] == ["x", "y", "k"]


def test_invalid_row_messages_name_the_value(index, tmp_path: Path) -> None:
    lookup_file(index, write_input(tmp_path, "csv"), tmp_path / "a.csv")
    lookup_file(index, write_input(tmp_path, "gpkg"), tmp_path / "b.csv")

    from_csv = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)["error"].tolist()
    from_gpkg = pd.read_csv(tmp_path / "b.csv", dtype=str, keep_default_na=False)["error"].tolist()
    assert from_csv[5] == "lon='abc' is not a number"
    assert from_csv[6] == "lon='' is empty"
    assert "lat=95.0 is out of range" in from_csv[7]
    assert "look swapped" in from_csv[8]
    assert from_gpkg[5] == "geometry is missing (null)"
    assert from_gpkg[6] == "geometry is an empty Point"
    assert from_gpkg[7].startswith("geometry is a Polygon, not a Point: POLYGON ((117.01 36")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # pytest's capture outranks the writer's
def test_gcj02_input(index, tmp_path: Path) -> None:
    from geo.crs import from_wgs84

    # 117.097 is 300 m west of the district line; its GCJ-02 form is ~200 m east of it.
    lon = np.array([117.05, 117.15, 117.097])
    lat = np.array([36.1, 36.1, 36.1])
    glon, glat = from_wgs84(lon, lat, "gcj02")
    source = tmp_path / "amap.csv"
    pd.DataFrame({"lng": glon.astype(str), "lat": glat.astype(str)}).to_csv(source, index=False)
    target = tmp_path / "out.geojson"

    summary = lookup_file(index, source, target, crs="gcj02")

    out = gpd.read_file(target)
    assert summary.crs == "gcj02"
    assert out["community_code"].tolist() == ["370902001001", "370911001001", "370902001001"]
    # The written points are the GCJ-02 input, untouched (the offset is hundreds of metres).
    assert np.allclose(out.geometry.x, glon.astype(str).astype(float), atol=1e-12)
    # Read as WGS84 (no conversion), the last point lands in the wrong district.
    lookup_file(index, source, tmp_path / "wgs.csv")
    wrong = pd.read_csv(tmp_path / "wgs.csv", dtype=str)["community_code"].tolist()
    assert wrong[2] == "370911001001"


def test_file_crs_is_used_for_geometry(index, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.Point(117.05, 36.1)], crs="EPSG:4326")
    projected = frame.to_crs("EPSG:4547")  # CGCS2000 3-degree Gauss-Kruger CM 117E
    source = tmp_path / "projected.gpkg"
    projected.to_file(source)
    target = tmp_path / "out.gpkg"

    summary = lookup_file(index, source, target)

    out = gpd.read_file(target)
    assert summary.crs == "EPSG:4547"
    assert out["status"].tolist() == ["ok"]
    assert out.crs.to_epsg() == 4547
    assert shapely.equals_exact(out.geometry.iloc[0], projected.geometry.iloc[0], tolerance=1e-6)


def test_empty_inputs_give_empty_outputs(index, tmp_path: Path) -> None:
    source = tmp_path / "header.csv"
    source.write_text("id,lon,lat\n")
    for fmt, ext in FORMAT_EXT.items():
        target = tmp_path / f"out{ext}"
        summary = lookup_file(index, source, target)
        assert summary.rows == 0, fmt
        out = read_output(target)
        assert len(out) == 0, fmt
        if fmt != "geojson":  # an empty FeatureCollection has no properties to show columns
            assert "status" in out.columns, fmt


def test_geojson_output_is_one_valid_feature_collection(index, tmp_path: Path) -> None:
    import json

    target = tmp_path / "out.geojson"
    lookup_file(index, write_input(tmp_path, "csv"), target, chunk_rows=2)

    document = json.loads(target.read_text())
    assert document["type"] == "FeatureCollection"
    assert [f["properties"]["id"] for f in document["features"]] == IDS


def test_nested_geojson_properties_to_csv(index, tmp_path: Path) -> None:
    source = tmp_path / "nested.geojson"
    source.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"tags": ["a", "b"]}, "geometry": {"type": "Point", "coordinates": [117.05, 36.1]}}]}'
    )
    target = tmp_path / "out.csv"

    lookup_file(index, source, target)

    out = pd.read_csv(target, dtype=str)
    assert out["tags"].tolist() == ['["a", "b"]']
    assert out["geometry"].tolist() == ["POINT (117.05 36.1)"]


def test_input_crs_constant() -> None:
    assert pyproj.CRS(INPUT_CRS).to_epsg() == 4490
