"""Hostile boundary files through ``siji boundaries import``: a clear error, the database unchanged.

Every hostile file is imported with ``--commit --accept-problems`` (the user insisting on
storing it) into a database that already holds a generation.  Each must end in exit
status 2 with a message naming the problem, and every table must hold exactly the rows
it held before (geometries compared as WKB hex), on SQLite and on PostGIS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import inspect, text
from typer.testing import CliRunner

import tests.hostile_inputs as hostile
from boundaries.read import MAX_FILE_BYTES, FieldMapping, read_boundaries
from geo.errors import BoundaryDataError
from siji.cli import app
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.conftest import TOY_VALID_FROM, fresh_postgis_database, units_frame

Make = Callable[[Path], Path]
SHAPEFILE_FIELDS = ["--parent-field", "parent"]  # see hostile._shapefile

# (id, writer, extra CLI arguments, fragments the error message must contain)
CASES: list[tuple[str, Make, list[str], list[str]]] = [
    ("bowtie", hostile.bowtie_polygon, [], ["Self-intersection[117.15 36.05]", "which no option accepts"]),
    ("empty-polygon", hostile.empty_polygon, [], ["feature '370911' has an empty geometry"]),
    (
        "mixed-types",
        hostile.mixed_geometry_types,
        [],
        ["are LineString, Point", "only Polygon and MultiPolygon"],
    ),
    (
        "unknown-epsg",
        hostile.unknown_epsg_geojson,
        [],
        ["declares CRS 'urn:ogc:def:crs:EPSG::99999'", "unknown"],
    ),
    (
        "nonsense-prj",
        hostile.nonsense_prj_shapefile,
        SHAPEFILE_FIELDS,
        [".prj is not a CRS", "'this is not a"],
    ),
    ("missing-crs", hostile.missing_crs_shapefile, SHAPEFILE_FIELDS, ["declares no CRS", "EPSG:<code>"]),
    ("gbk-dbf", hostile.gbk_shapefile, SHAPEFILE_FIELDS, ["which is '泰安市' in GBK", "--encoding gbk"]),
    (
        "nan-vertex",
        hostile.nan_vertex_parquet,
        [],
        ["feature '370911' has NaN or infinite vertex", "(nan, 36.1)"],
    ),
    (
        "inf-vertex",
        lambda folder: hostile.nan_vertex_parquet(folder, float("inf")),
        [],
        ["NaN or infinite vertex", "(inf, 36.1)"],
    ),
    ("nan-token-geojson", hostile.nan_vertex_geojson, [], ["NaN or infinite vertex coordinates"]),
    ("swapped-axes", hostile.swapped_axes, [], ["outside longitude -180..180", "look swapped"]),
    (
        "duplicated-codes",
        hostile.duplicated_codes,
        [],
        ["code 370902 is used by 2 units: feature #2 '泰山区'", "which no option accepts"],
    ),
    ("missing-code", hostile.missing_code, [], ["feature '#3' has no code"]),
    ("overlong-code", hostile.overlong_code, [], ["a code of 64 characters", "at most 32"]),
    ("overlong-name", hostile.overlong_name, [], ["a name of 1,000 characters", "at most 200"]),
    ("gbk-geojson", hostile.non_utf8_geojson, [], ["not valid UTF-8", "byte 0xb0", "--encoding gbk"]),
    ("deep-coordinates", hostile.deep_geojson, [], ["JSON nesting is too deep"]),
    ("deep-properties", hostile.deep_properties_geojson, [], ["JSON nesting is too deep"]),
    (
        "zip-bomb",
        lambda folder: hostile.zip_bomb(folder, MAX_FILE_BYTES + (16 << 20)),
        [],
        ["would inflate to 1,090,519,040 bytes", "a zip bomb?"],
    ),
    ("2gb-sparse", lambda folder: hostile.sparse_file(folder, "big.geojson"), [], ["2,147,483,648 bytes"]),
    ("truncated-parquet", hostile.truncated_parquet, [], ["as GeoParquet: it is cut short"]),
    (
        "png-as-gpkg",
        lambda folder: hostile.wrong_magic(folder, "units.gpkg"),
        [],
        ["as GeoPackage: it starts with a PNG"],
    ),
    ("png-as-geojson", lambda folder: hostile.wrong_magic(folder, "units.geojson"), [], ["with a PNG image"]),
    ("empty-file", lambda folder: hostile.empty_file(folder, "units.parquet"), [], ["it is empty (0 bytes)"]),
    ("no-features", hostile.no_features, [], ["no features"]),
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def seeded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database holding one generation (the canonical toy set)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hostile-db')}/siji.db"
    else:
        url = fresh_postgis_database(request.getfixturevalue("postgis_server"))
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    engine.dispose()
    return url


def dump_database(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every siji table, geometries and blobs as hex, in a stable order."""
    engine = make_engine(url)
    try:
        names = sorted(n for n in inspect(engine).get_table_names() if n != "spatial_ref_sys")
        with engine.connect() as connection:
            return {
                name: sorted(
                    (
                        tuple(_plain(v) for v in row)
                        for row in connection.execute(text(f'SELECT * FROM "{name}"'))
                    ),
                    key=repr,
                )
                for name in names
            }
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()  # SQLite WKB blobs; PostGIS geometries arrive as hex text already
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def _import(url: str, path: Path, *extra: str) -> Any:
    env = {"SIJI_DATABASE_URL": url, "SIJI_LOAD_BUNDLED": "false", "COLUMNS": "250"}
    args = ["boundaries", "import", str(path), "--valid-from", "2030-01-01", *extra]
    return CliRunner().invoke(app, args, env=env)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Make], Path]:
    """Each hostile file written once per module (the zip bomb takes a second), shared by both databases."""
    cache: dict[str, Path] = {}

    def make_once(case: str, make: Make) -> Path:
        if case not in cache:
            cache[case] = make(tmp_path_factory.mktemp(case))
        return cache[case]

    return make_once


@pytest.mark.parametrize(("case", "make", "extra", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_refused_and_the_database_is_unchanged(
    seeded_url: str,
    made: Callable[[str, Make], Path],
    case: str,
    make: Make,
    extra: list[str],
    fragments: list[str],
) -> None:
    path = made(case, make)
    before = dump_database(seeded_url)
    assert len(before["units"]) == len(units_frame())  # the comparison below is not vacuous

    result = _import(seeded_url, path, *extra, "--commit", "--accept-problems")

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    message = " ".join(result.output.split())  # rich may wrap long lines
    for fragment in fragments:
        assert fragment in message, message
    assert dump_database(seeded_url) == before


def test_3d_file_dry_run_is_accepted_flattened_and_stores_nothing(seeded_url: str, tmp_path: Path) -> None:
    """Heights mean nothing for jurisdictions: Z is dropped, not refused; a dry run stores nothing.
    (The file lies beside the toy set, so its release checks need an accepted change.)"""
    path = hostile.xyz_coordinates(tmp_path)
    before = dump_database(seeded_url)

    result = _import(seeded_url, path, "--accept-change", "a set of another place")

    assert result.exit_code == 0, result.output
    assert "dry run: nothing stored" in result.output
    assert dump_database(seeded_url) == before
    assert not shapely.has_z(read_boundaries(path).geometry.values).any()


def test_gbk_shapefile_reads_with_its_encoding(tmp_path: Path) -> None:
    path = hostile.gbk_shapefile(tmp_path)
    frame = read_boundaries(path, fields=FieldMapping(parent_code="parent"), encoding="gbk")
    assert frame["name"].tolist() == ["泰安市", "泰山区", "岱岳区"]


def test_gbk_geojson_reads_with_its_encoding(tmp_path: Path) -> None:
    frame = read_boundaries(hostile.non_utf8_geojson(tmp_path), encoding="gbk")
    assert frame["name"].tolist() == ["泰安市", "泰山区", "岱岳区"]


def test_unknown_encoding_is_a_usage_error(seeded_url: str, tmp_path: Path) -> None:
    result = _import(seeded_url, hostile.non_utf8_geojson(tmp_path), "--encoding", "klingon")
    assert result.exit_code == 2
    assert "unknown --encoding 'klingon'" in result.output


def test_the_size_cap_is_a_parameter(tmp_path: Path) -> None:
    path = hostile.write_geojson(tmp_path / "units.geojson", hostile.boundary_features())
    with pytest.raises(BoundaryDataError, match=r"boundary files over 100 bytes are refused"):
        read_boundaries(path, max_bytes=100)


def test_zip_bomb_and_2gb_file_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    """In a fresh process: each refusal must come before any inflating or reading."""
    bomb = hostile.zip_bomb(tmp_path, MAX_FILE_BYTES + (16 << 20))  # 1 GiB + 16 MiB inflated, 1 MB on disk
    big = hostile.sparse_file(tmp_path, "big.parquet")
    env = {"SIJI_DATABASE_URL": f"sqlite:///{tmp_path}/m.db", "SIJI_LOAD_BUNDLED": "false"}
    results = hostile.run_cli_measured(
        {
            name: ["boundaries", "import", str(path), "--commit"]
            for name, path in (("bomb", bomb), ("2gb", big))
        },
        env,
        tmp_path,
    )
    for name, result in results.items():
        assert result["exit_code"] == 2, (name, result)
        assert result["crash"] is None, (name, result)
        assert result["peak_mb"] < 600, (name, result["peak_mb"])
    print({name: result["peak_mb"] for name, result in results.items()})  # the figures, shown with -s
    assert "would inflate to 1,090,519,040 bytes" in results["bomb"]["output"]
    assert "it is 2,147,483,648 bytes" in results["2gb"]["output"]
