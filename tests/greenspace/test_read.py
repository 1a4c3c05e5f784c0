"""Reading park files: every format, field mapping, kinds, dates, areas, CRSs, and broken files."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.crs import from_wgs84
from geo.errors import CRSMismatchError
from greenspace.kinds import KINDS, get_kind
from greenspace.read import GreenSpaceDataError, GreenSpaceFields, check_inside, parse_date, read_green_spaces
from greenspace.write import write_register
from tests.common import GREEN_CENTRE, green_spaces, metric_offset

NAMES = ["泰山公园", "岱庙广场", "青年路口袋公园", "新建口袋公园"]
JUNE_1 = dt.date(2019, 6, 1)


def _csv(path: Path, rows: list[str], header: str = "name,kind,lon,lat,opened,area_m2") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _points_csv(path: Path) -> Path:
    frame = green_spaces()
    points = shapely.point_on_surface(frame.geometry.to_numpy())
    rows = [
        f"{name},{kind},{p.x:.7f},{p.y:.7f},{opened},{'' if area != area or area is None else area}"
        for name, kind, p, opened, area in zip(
            frame["name"], frame["kind"], points, frame["opened"], frame["area_m2"], strict=True
        )
    ]
    return _csv(path, rows)


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_every_format_reads_to_the_register_frame(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"parks{suffix}"
    source = green_spaces().assign(管理单位="园林局")
    source.to_parquet(path) if suffix == ".parquet" else source.to_file(path)
    frame = read_green_spaces(path)
    assert frame.columns[:5].tolist() == ["code", "name", "kind", "area_m2", "opened_on"]
    assert frame["name"].tolist() == NAMES
    assert frame["kind"].tolist() == ["park", "square", "pocket_park", "pocket_park"]
    assert frame["code"].tolist() == ["P001", "P002", "P003", "P004"]
    assert frame["opened_on"].tolist() == [
        dt.date(2005, 1, 1), dt.date(2019, 6, 1), dt.date(2021, 5, 1), dt.date(2099, 1, 1),
    ]  # fmt: skip
    assert frame["管理单位"].tolist() == ["园林局"] * 4
    assert frame.crs.to_epsg() == 4326
    assert frame.geom_type.tolist() == ["Polygon", "MultiPolygon", "Point", "Point"]


def test_polygons_are_measured_points_keep_the_files_area(tmp_path: Path) -> None:
    path = tmp_path / "parks.geojson"
    green_spaces().assign(area_m2=[1.0, 2.0, 800.0, None]).to_file(path)
    area = read_green_spaces(path)["area_m2"].to_numpy()
    assert area[0] == pytest.approx(160_000, rel=2e-3)  # 400 m x 400 m, measured on the ellipsoid
    assert area[1] == pytest.approx(7_200, rel=2e-3)  # the file's 2.0 is ignored for a polygon
    assert area[2] == 800.0
    assert np.isnan(area[3])


@pytest.mark.parametrize("geometry", ["points", "polygons"])
def test_shapefiles_of_either_geometry(tmp_path: Path, geometry: str) -> None:
    frame = green_spaces()
    chosen = frame[frame.geom_type == "Point"] if geometry == "points" else frame.iloc[:1]
    path = tmp_path / "parks.shp"
    chosen.to_file(path, encoding="utf-8")
    assert read_green_spaces(path)["name"].tolist() == chosen["name"].tolist()


def test_a_csv_of_points(tmp_path: Path) -> None:
    frame = read_green_spaces(_points_csv(tmp_path / "parks.csv"), crs="wgs84")
    assert frame["name"].tolist() == NAMES
    assert (frame.geom_type == "Point").all()
    assert frame["area_m2"].tolist()[2:] == [800.0, 500.0]


def test_a_gbk_csv_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("name,kind,lng,lat\n东湖公园,公园,117.139,36.188\n".encode("gbk"))
    with pytest.raises(GreenSpaceDataError, match=r"not valid UTF-8 text.*GBK/GB18030"):
        read_green_spaces(path, crs="wgs84")
    assert read_green_spaces(path, crs="wgs84", encoding="gbk")["name"].tolist() == ["东湖公园"]


def test_gcj02_points_are_converted(tmp_path: Path) -> None:
    """Amap coordinates are about 500 m off WGS84 in Tai'an: converted, not taken as they are."""
    path = _csv(tmp_path / "amap.csv", [f"东湖公园,公园,{GREEN_CENTRE[0]},{GREEN_CENTRE[1]},,"])
    point = read_green_spaces(path, crs="gcj02").geometry.iloc[0]
    shift = gpd.GeoSeries([point, shapely.Point(GREEN_CENTRE)], crs=4326).to_crs(4548)
    assert 300 < shift.iloc[0].distance(shift.iloc[1]) < 800


def test_a_projected_file_is_brought_to_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "projected.gpkg"
    green_spaces().to_crs(4548).to_file(path)
    frame = read_green_spaces(path)
    assert frame.geometry.iloc[0].centroid.distance(shapely.Point(GREEN_CENTRE)) < 1e-6


def test_field_mapping_and_one_kind_for_all(tmp_path: Path) -> None:
    renamed = green_spaces().rename(columns={"name": "mc", "opened": "kysj", "code": "bh"})
    source = renamed.drop(columns="kind")
    path = tmp_path / "mapped.geojson"
    source.to_file(path)
    fields = GreenSpaceFields(name="mc", kind=None, code="bh", opened="kysj")
    frame = read_green_spaces(path, fields=fields, kind="口袋公园")
    assert frame["name"].tolist() == NAMES
    assert set(frame["kind"]) == {"pocket_park"}
    assert frame["code"].tolist()[0] == "P001"


def test_an_export_reads_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "parks.gpkg"
    green_spaces().to_file(path)
    first = read_green_spaces(path)
    register = first.assign(id=range(1, 5), source="parks.gpkg")
    exported = tmp_path / "export.geojson"
    write_register(register, exported)
    again = read_green_spaces(exported)
    for column in ("code", "name", "kind", "opened_on"):
        assert again[column].tolist() == first[column].tolist()
    assert shapely.equals_exact(again.geometry.to_numpy(), first.geometry.to_numpy(), tolerance=1e-7).all()


@pytest.mark.parametrize(
    ("value", "key"),
    [("公园", "park"), ("社区公园", "park"), ("Park", "park"), ("口袋公园", "pocket_park"),
     ("游园", "pocket_park"), ("pocket-park", "pocket_park"), ("广场", "square"), ("Plaza", "square"),
     (" square ", "square")],
)  # fmt: skip
def test_kind_names(value: str, key: str) -> None:
    assert get_kind(value).key == key


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2019-06-01", JUNE_1), ("2019/6/1", JUNE_1), ("2019.06.01", JUNE_1), ("2019年6月1日", JUNE_1),
     ("20190601", JUNE_1), ("2019-06", JUNE_1), ("2019年6月", JUNE_1), ("2019", dt.date(2019, 1, 1)),
     (2019, dt.date(2019, 1, 1)), ("2019-06-01T08:00:00", JUNE_1), (dt.datetime(2019, 6, 1, 8), JUNE_1),
     ("", None), (None, None), (float("nan"), None)],
)  # fmt: skip
def test_opening_dates(value: object, expected: dt.date | None) -> None:
    assert parse_date(value) == expected


# --------------------------------------------------------------------------- broken files
Maker = Callable[[Path], Path]


def _geojson(path: Path, features: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _feature(geometry: dict[str, object] | None, **properties: object) -> dict[str, object]:
    properties = {"name": "东湖公园", "kind": "公园", **properties}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _one(name: str, geometry: dict[str, object] | None = None, **properties: object) -> Maker:
    """A GeoJSON file ``name`` of one feature (東湖公园, 公园, at POINT unless given)."""
    return lambda p: _geojson(p / name, [_feature(POINT if geometry is None else geometry, **properties)])


POINT = {"type": "Point", "coordinates": [117.139, 36.188]}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[117.1, 36.1], [117.11, 36.11], [117.11, 36.1], [117.1, 36.11], [117.1, 36.1]]],
}
LINE = {"type": "LineString", "coordinates": [[117.1, 36.1], [117.2, 36.2]]}
WGS84 = {"crs": "wgs84"}
BROKEN: list[tuple[str, Maker, dict[str, object], str]] = [
    ("empty file", lambda p: _bytes(p / "e.geojson", b""), {}, r"it is empty \(0 bytes\)"),
    ("no features", lambda p: _geojson(p / "n.geojson", []), {},
     r"has no features; a park file needs at least one"),
    ("a PNG", lambda p: _bytes(p / "x.gpkg", b"\x89PNG\r\n\x1a\n" + b"0" * 64), {},
     r"as GeoPackage: it starts with a PNG image"),
    ("unknown format", lambda p: _bytes(p / "x.kml", b"<kml/>"), {}, r"unknown format '.kml'"),
    ("missing file", lambda p: p / "nothing.gpkg", {}, r"file not found"),
    ("no name field", lambda p: _geojson(p / "a.geojson", [
        {"type": "Feature", "properties": {"mc": "x", "kind": "公园"}, "geometry": POINT}]), {},
     r"has no name field 'name'; the file has: \['mc', 'kind'\]"),
    ("no kind field", lambda p: _geojson(p / "b.geojson", [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": POINT}]), {},
     r"has no kind field 'kind'.*or give one kind for every feature \(--kind\)"),
    ("named field missing", _one("c.geojson"), {"fields": GreenSpaceFields(opened="kysj")},
     r"has no opened field 'kysj'"),
    ("empty name", lambda p: _geojson(p / "d.geojson", [_feature(POINT), _feature(POINT, name=" ")]), {},
     r"features \['#2'\] have no name"),
    ("unknown kind", _one("k.geojson", kind="花坛"), {},
     r"field 'kind' of '东湖公园' \('花坛'\) is not a kind of green space; allowed: park \(公园"),
    ("bad --kind", _one("k2.geojson"), {"kind": "garden"},
     r"--kind: kind 'garden' is not a kind of green space"),
    ("bad date", _one("t.geojson", opened="next spring"), {},
     r"field 'opened' of '东湖公园' \('next spring'\) is not a date; allowed: 2019-06-01"),
    ("bad area", _one("ar.geojson", area_m2="-5"), {},
     r"field 'area_m2' of '东湖公园' \('-5'\) is not an area; allowed: square metres"),
    ("duplicate code", lambda p: _geojson(p / "dup.geojson", [_feature(POINT, code="A")] * 2), {},
     r"code 'A' is used twice, by #1 '东湖公园' and #2 '东湖公园'"),
    ("a line", _one("l.geojson", LINE), {},
     r"'东湖公园' are LineString; allowed: Point, Polygon and MultiPolygon"),
    ("no geometry", lambda p: _geojson(p / "g.geojson", [_feature(None)]), {},
     r"'东湖公园' have no geometry"),
    ("self-intersecting", _one("bow.geojson", BOWTIE), {},
     r"1 polygon\(s\) are invalid \('东湖公园': Self-intersection.*import with --repair"),
    ("swapped axes", lambda p: _csv(p / "s.csv", ["东湖公园,公园,36.188,117.139,,"]), WGS84,
     r"outside longitude -180..180 / latitude -90..90.*the axes look swapped"),
    ("metres as degrees", lambda p: _csv(p / "m.csv", ["东湖公园,公园,512345.0,4005432.0,,"]), WGS84,
     r"the coordinates cannot be degrees .* Read as metres they are a single point"),
    ("csv without crs", lambda p: _csv(p / "n.csv", ["东湖公园,公园,117.139,36.188,,"]), {},
     r"declares no CRS; give the source CRS \(wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>\)"),
    ("csv bad number", lambda p: _csv(p / "bad.csv", ["东湖公园,公园,117.139,abc,,"]), WGS84,
     r"1 row\(s\) have no usable point: row 1: lat='abc' is not a number"),
    ("csv no coordinates", lambda p: _csv(p / "nc.csv", ["东湖公园,公园"], header="name,kind"), WGS84,
     r"no coordinate columns found"),
    ("csv of WKT", lambda p: _csv(p / "w.csv", ['东湖公园,公园,"POINT (117.1 36.1)"'], header="n,kind,wkt"),
     WGS84, r"Polygons written as text \(WKT\) in a CSV are not read: save the layer as GeoPackage"),
    ("csv header only", lambda p: _csv(p / "h.csv", []), WGS84, r"has no rows"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "kwargs", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_name_the_problem(
    tmp_path: Path, case: str, make: Maker, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(GreenSpaceDataError, match=message):
        read_green_spaces(make(tmp_path), **kwargs)  # type: ignore[arg-type]


def test_nan_vertices_are_named_without_a_library_warning(tmp_path: Path) -> None:
    path = tmp_path / "nan.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"东湖公园",'
        '"kind":"公园"},"geometry":{"type":"Polygon","coordinates":[[[117.1,36.1],[117.2,NaN],'
        "[117.2,36.2],[117.1,36.1]]]}}]}",
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(GreenSpaceDataError, match=r"feature '东湖公园' has NaN or infinite vertex"):
            read_green_spaces(path)


def test_a_declared_crs_contradicted_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "projected.gpkg"
    green_spaces().to_crs(4548).to_file(path)
    with pytest.raises(CRSMismatchError, match=r"declares CRS EPSG:4548 but the source CRS was given"):
        read_green_spaces(path, crs="EPSG:32650")


def test_invalid_polygons_can_be_repaired(tmp_path: Path) -> None:
    path = _geojson(tmp_path / "bow.geojson", [_feature(BOWTIE)])
    frame = read_green_spaces(path, repair=True)
    assert frame.geometry.iloc[0].is_valid
    assert frame.attrs["repaired"] == ["东湖公园"]


def test_oversized_files_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "parks.geojson"
    green_spaces().to_file(path)
    with pytest.raises(GreenSpaceDataError, match=r"park files over 100 bytes are refused"):
        read_green_spaces(path, max_bytes=100)
    csv = _points_csv(tmp_path / "parks.csv")
    with pytest.raises(GreenSpaceDataError, match=r"park files over 100 bytes are refused"):
        read_green_spaces(csv, crs="wgs84", max_bytes=100)


def test_features_far_outside_the_city_are_refused() -> None:
    from boundaries.bundled import load_taian

    units = load_taian()
    city = units.loc[units["level"] == "city"].geometry.iloc[0]
    frame = green_spaces()
    check_inside(frame, city, where="泰安市")  # all inside
    beijing = frame.set_geometry([shapely.Point(116.40, 39.90)] * 4, crs=4326)
    outside = r"4 feature\(s\) lie more than 1,000 m outside 泰安市: '泰山公园'"
    with pytest.raises(GreenSpaceDataError, match=outside):
        check_inside(beijing, city, where="泰安市")


def test_amap_points_read_as_wgs84_stay_inside_but_gcj02_moves_them() -> None:
    """The check cannot catch a GCJ-02 file read as WGS84 (500 m is inside the city): the
    README tells planners to give --crs gcj02 for Amap data; this pins the size of that error."""
    lon, lat = metric_offset(0, 0)
    x, y = from_wgs84(np.array([lon]), np.array([lat]), "gcj02")
    shift = gpd.GeoSeries.from_xy([lon, x[0]], [lat, y[0]], crs=4326).to_crs(4548)
    assert 400 < shift.iloc[0].distance(shift.iloc[1]) < 700


def test_every_kind_has_chinese_and_english_names() -> None:
    assert [k.key for k in KINDS] == ["park", "pocket_park", "square"]
    assert all(k.name_zh and k.name_en for k in KINDS)
