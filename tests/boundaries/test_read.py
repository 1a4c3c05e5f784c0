"""Reading boundary layers in every supported format and CRS."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import box

from boundaries.read import FieldMapping, read_boundaries
from geo.crs import from_wgs84
from geo.errors import BoundaryDataError, CRSMismatchError

CITY = box(117.0, 36.0, 117.2, 36.1)
WEST = box(117.0, 36.0, 117.1, 36.1)
EAST = box(117.1, 36.0, 117.2, 36.1)


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "adcode": [370900, 370902, 370911],
            "mc": ["泰安市", "泰山区", "岱岳区"],
            "sj": [None, 370900, 370900],
            "jb": ["city", "district", "district"],
            "population": [5_600_000, 800_000, 1_000_000],
        },
        geometry=[CITY, WEST, EAST],
        crs=4326,
    )


FIELDS = FieldMapping(code="adcode", name="mc", parent_code="sj", level="jb")


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".parquet"])
def test_every_format_reads_to_the_same_normalized_frame(tmp_path: Path, suffix: str) -> None:
    path = _write(_frame(), tmp_path / f"units{suffix}")
    frame = read_boundaries(path, fields=FIELDS)
    assert list(frame.columns[:4]) == ["code", "name", "level", "parent_code"]
    assert frame["code"].tolist() == ["370900", "370902", "370911"]
    assert frame["parent_code"].tolist() == [None, "370900", "370900"]
    assert frame["name"].tolist() == ["泰安市", "泰山区", "岱岳区"]
    assert frame.crs.to_epsg() == 4326
    assert "population" in frame.columns
    assert shapely.equals(frame.geometry.values, np.array([CITY, WEST, EAST])).all()


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_obfuscated_sources_are_converted_to_wgs84(tmp_path: Path, crs: str) -> None:
    frame = _frame()
    shifted = shapely.transform(
        frame.geometry.values, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], crs))
    )
    frame = frame.set_geometry(shifted)
    path = _write(frame, tmp_path / "units.geojson")  # GeoJSON claims WGS84 whatever the truth
    read = read_boundaries(path, fields=FIELDS, crs=crs)
    # Edges come back densified (see read._densified); every original corner is back
    # at its WGS84 position.
    for original, converted in zip(_frame().geometry.values, read.geometry.values, strict=True):
        got = shapely.get_coordinates(converted)
        for corner in shapely.get_coordinates(original):
            assert np.abs(got - corner).max(axis=1).min() < 1e-8


def test_projected_source_is_reprojected(tmp_path: Path) -> None:
    path = _write(_frame().to_crs(32650), tmp_path / "units.gpkg")
    read = read_boundaries(path, fields=FIELDS)
    assert read.crs.to_epsg() == 4326
    # Corners come back exactly; edges, straight in UTM, bow by metres in lon/lat.
    corners = shapely.get_coordinates(read.geometry.values[0])
    for corner in shapely.get_coordinates(CITY):
        assert np.abs(corners - corner).max(axis=1).min() < 1e-8
    assert np.abs(read.total_bounds - CITY.bounds).max() < 1e-4


def test_cgcs2000_counts_as_wgs84(tmp_path: Path) -> None:
    path = _write(_frame().set_crs(4490, allow_override=True), tmp_path / "units.gpkg")
    read = read_boundaries(path, fields=FIELDS)
    assert read.crs.to_epsg() == 4326
    assert np.array_equal(read.total_bounds, np.array(CITY.bounds))


def test_declared_crs_contradicting_the_file_is_loud(tmp_path: Path) -> None:
    path = _write(_frame().to_crs(32650), tmp_path / "units.gpkg")
    with pytest.raises(CRSMismatchError, match=r"EPSG:32650.*wgs84"):
        read_boundaries(path, fields=FIELDS, crs="wgs84")


def test_missing_crs_asks_for_one(tmp_path: Path) -> None:
    path = tmp_path / "units.parquet"
    _frame().set_crs(None, allow_override=True).to_parquet(path)
    with pytest.raises(BoundaryDataError, match="declares no CRS"):
        read_boundaries(path, fields=FIELDS)


def test_missing_field_names_the_field_and_the_available_ones(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "units.geojson")
    with pytest.raises(BoundaryDataError) as raised:
        read_boundaries(path)
    assert raised.value.message == (
        "'units.geojson' has no field 'code' (the code; did you mean 'adcode'?), no field 'name' (the name), "
        "no field 'level' (the level); the file has: adcode, mc, sj, jb, population"
    )


def test_single_level_file_with_a_constant_level(tmp_path: Path) -> None:
    frame = _frame().drop(columns=["jb", "sj"]).iloc[1:]
    path = _write(frame, tmp_path / "districts.geojson")
    read = read_boundaries(
        path, fields=FieldMapping(code="adcode", name="mc", parent_code=None, level=None), level="county"
    )
    assert read["level"].tolist() == ["district", "district"]
    assert read["parent_code"].tolist() == [None, None]


def test_unknown_level_names_the_unit_and_the_allowed_levels(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[1, "jb"] = "province"
    path = _write(frame, tmp_path / "units.geojson")
    with pytest.raises(
        BoundaryDataError, match=r"unit '370902'.*'province'.*city, district, subdistrict, community"
    ):
        read_boundaries(path, fields=FIELDS)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (shapely.Point(117.05, 36.05), "feature .370911. is Point; only Polygon and MultiPolygon"),
        (shapely.LineString([(117, 36), (117.1, 36.1)]), "is LineString"),
        (shapely.Polygon(), "empty geometry"),
    ],
)
def test_non_polygon_geometries_are_refused(tmp_path: Path, geometry: shapely.Geometry, message: str) -> None:
    frame = _frame()
    geoms = frame.geometry.values.copy()
    geoms[2] = geometry
    frame = frame.set_geometry(geoms)
    path = tmp_path / "units.parquet"
    frame.to_parquet(path)
    with pytest.raises(BoundaryDataError, match=message):
        read_boundaries(path, fields=FIELDS)


def test_3d_coordinates_are_flattened(tmp_path: Path) -> None:
    frame = _frame().set_geometry(shapely.force_3d(_frame().geometry.values, 100.0))
    path = _write(frame, tmp_path / "units.gpkg")
    read = read_boundaries(path, fields=FIELDS)
    assert not shapely.has_z(read.geometry.values).any()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "broken.geojson",
            b'{"type": "FeatureCollection", "features": [',
            "cannot read 'broken.geojson' as GeoJSON",
        ),
        ("notparquet.parquet", b"PAR1 but not really", "cannot read 'notparquet.parquet' as GeoParquet"),
        ("units.txt", b"hello", "unknown format '.txt'"),
    ],
)
def test_broken_files_get_a_clear_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BoundaryDataError, match=message):
        read_boundaries(path, fields=FIELDS)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BoundaryDataError, match="file not found"):
        read_boundaries(tmp_path / "nope.geojson")


def test_deeply_nested_geojson_is_refused_not_crashing(tmp_path: Path) -> None:
    path = tmp_path / "deep.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [' + "[" * 10_000 + "]" * 10_000 + "]}")
    with pytest.raises(BoundaryDataError):
        read_boundaries(path, fields=FIELDS)


def test_codes_from_numbers_keep_every_digit(tmp_path: Path) -> None:
    path = tmp_path / "units.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"code": 370902001000, "name": "x", "level": "subdistrict"},
            "geometry": shapely.geometry.mapping(WEST),
        }
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    read = read_boundaries(path, fields=FieldMapping(parent_code=None))
    assert read["code"].tolist() == ["370902001000"]


LEVEL_FORMS = {
    "keys": ["city", "district", "district"],
    "chinese": ["市", "区", "县"],
    "nbs-integers": [2, 3, 3],
    "nbs-floats": [2.0, 3.0, 3.0],
    "nbs-text": ["2", "3", " 3 "],
}


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
@pytest.mark.parametrize("form", LEVEL_FORMS)
def test_one_level_vocabulary_whatever_the_column_type(tmp_path: Path, form: str, suffix: str) -> None:
    frame = _frame().assign(jb=LEVEL_FORMS[form])
    read = read_boundaries(_write(frame, tmp_path / f"units{suffix}"), fields=FIELDS)
    assert read["level"].tolist() == ["city", "district", "district"]


@pytest.mark.parametrize(
    ("levels", "shown"),
    [([0, 1, 1], "unknown level 0"), (["0", "1", "1"], "unknown level 0"), ([2, 4, 6], "unknown level 6")],
)
def test_numbers_are_nbs_levels_never_ranks(tmp_path: Path, levels: list, shown: str) -> None:
    path = _write(_frame().assign(jb=levels), tmp_path / "units.gpkg")
    with pytest.raises(BoundaryDataError, match=shown) as raised:
        read_boundaries(path, fields=FIELDS)
    assert "NBS level number 2 (city), 3 (district), 4 (subdistrict), 5 (community)" in raised.value.message
    assert "市, 区, 县" in raised.value.message


def test_a_missing_level_names_the_feature(tmp_path: Path) -> None:
    path = _write(_frame().assign(jb=["city", None, "district"]), tmp_path / "units.gpkg")
    with pytest.raises(BoundaryDataError, match=r"unit '370902' \(feature #2\) has no level"):
        read_boundaries(path, fields=FIELDS)


def test_a_shapefile_finds_fields_by_their_cut_names(tmp_path: Path) -> None:
    """A DBF keeps 10 characters: ``parent_code`` is written as ``parent_cod``."""
    frame = _frame().rename(columns={"adcode": "code", "mc": "name", "sj": "parent_code", "jb": "level"})
    path = tmp_path / "units.shp"
    with pytest.warns(UserWarning, match="truncated"), pytest.warns(RuntimeWarning, match="'parent_cod'"):
        frame.to_file(path)
    assert "parent_cod" in gpd.read_file(path).columns
    read = read_boundaries(path)
    assert read["parent_code"].tolist() == [None, "370900", "370900"]


def test_a_multi_level_file_without_its_parent_field_is_refused(tmp_path: Path) -> None:
    frame = _frame().drop(columns=["sj"])
    path = _write(frame, tmp_path / "units.gpkg")
    with pytest.raises(BoundaryDataError) as raised:
        read_boundaries(path, fields=FIELDS)
    assert raised.value.message == (
        "'units.gpkg' has no field 'sj' (the parent code); the file has: adcode, mc, jb, population"
    )


def test_a_geopackage_with_several_layers_needs_a_layer(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    _frame().to_file(path, layer="boundaries")
    _frame().iloc[:1].to_file(path, layer="outline")
    with pytest.raises(
        BoundaryDataError, match=r"holds 2 layers \(boundaries, outline\); choose one with --layer"
    ):
        read_boundaries(path, fields=FIELDS)
    assert len(read_boundaries(path, fields=FIELDS, layer="boundaries")) == 3
    with pytest.raises(BoundaryDataError, match=r"has no layer 'nope'; its layers: boundaries, outline"):
        read_boundaries(path, fields=FIELDS, layer="nope")


def test_degrees_declared_as_a_projected_crs_are_refused_with_both_readings(tmp_path: Path) -> None:
    """The issue's release: longitude/latitude imported with --crs EPSG:4548."""
    path = _write(_frame(), tmp_path / "units.gpkg")
    with pytest.raises(BoundaryDataError) as raised:
        read_boundaries(path, fields=FIELDS, crs="EPSG:4548")
    message = raised.value.message
    assert "the coordinates look like degrees (x 117..117.2, y 36..36.1)" in message
    assert "EPSG:4548 is a projected CRS, in metres" in message
    assert "Read in EPSG:4548 they are a set 0.20 m wide and 0.10 m tall at longitude 112.5141" in message
    assert (
        "read as degrees they are a set 18.0 km wide and 11.1 km tall at longitude 117.0000..117.2000"
        in message
    )
    assert "--crs wgs84" in message


@pytest.mark.parametrize(
    ("epsg", "hint"),
    [
        (4527, "the x values carry zone number 39: CGCS2000 / 3-degree Gauss-Kruger zone 39, EPSG:4527"),
        (4548, "a Gauss-Kruger CRS without zone number"),
    ],
)
def test_metres_declared_as_degrees_are_refused_with_both_readings(
    tmp_path: Path, epsg: int, hint: str
) -> None:
    projected = _frame().to_crs(epsg).set_crs(None, allow_override=True)
    path = _write(projected, tmp_path / "units.parquet")
    with pytest.raises(BoundaryDataError) as raised:
        read_boundaries(path, fields=FIELDS, crs="wgs84")
    message = raised.value.message
    assert "the coordinates cannot be degrees" in message
    assert "although wgs84 is a geographic CRS" in message
    assert "Read as metres they are a set 18.0 km wide and 11.1 km tall" in message
    assert hint in message
