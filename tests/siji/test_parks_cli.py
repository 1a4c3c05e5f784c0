"""``siji parks``, run as a planner would: dry run, commit, list, export, re-import, remove, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from siji.cli import app
from tests.common import green_spaces

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("cli_database")


@pytest.fixture
def park_file(tmp_path: Path) -> Path:
    path = tmp_path / "parks.gpkg"
    green_spaces().to_file(path)
    return path


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_dry_run_stores_nothing_then_commit_stores(park_file: Path) -> None:
    dry = _ok(["parks", "import", str(park_file)])
    assert "4 green spaces from 'parks.gpkg': 1 公园, 2 口袋公园, 1 广场" in dry
    assert "2 polygons, 2 points" in dry
    assert "the register would hold 4 green spaces (before: 0)" in dry
    assert "dry run: nothing stored. Add --commit" in dry
    assert "the register is empty" in _ok(["parks", "list"])
    stored = _ok(["parks", "import", str(park_file), "--commit"])
    assert "the register holds 4 green spaces (before: 0)" in stored
    listing = _ok(["parks", "list"])
    assert "4 green spaces" in listing
    assert "泰山公园" in listing
    assert "polygon" in listing
    body = json.loads(runner.invoke(app, ["parks", "list", "--json", "--kind", "口袋公园"]).stdout)
    assert body["total"] == 2
    assert [p["name"] for p in body["green_spaces"]] == ["青年路口袋公园", "新建口袋公园"]
    assert body["green_spaces"][0]["kind_zh"] == "口袋公园"


def test_re_import_needs_replace_and_warns_of_the_same_park_twice(park_file: Path) -> None:
    _ok(["parks", "import", str(park_file), "--commit"])
    again = runner.invoke(app, ["parks", "import", str(park_file), "--commit"])
    assert again.exit_code == 2
    assert "already holds 4 green space(s) from source 'parks.gpkg'; import with --replace" in again.stderr
    replaced = _ok(["parks", "import", str(park_file), "--commit", "--replace"])
    assert "replaced the 4 green spaces imported before from 'parks.gpkg'" in replaced
    other = runner.invoke(app, ["parks", "import", str(park_file), "--source", "copy"])
    assert other.exit_code == 0
    assert "warning: 4 of these are already in the register under another source" in other.stderr


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_an_export_imports_again_unchanged(park_file: Path, tmp_path: Path, suffix: str) -> None:
    _ok(["parks", "import", str(park_file), "--commit"])
    exported = tmp_path / f"export{suffix}"
    result = runner.invoke(app, ["parks", "export", str(exported)])
    assert result.exit_code == 0
    assert "wrote 4 green spaces" in result.stderr
    _ok(["parks", "import", str(exported), "--commit", "--replace", "--source", "parks.gpkg"])
    body = json.loads(runner.invoke(app, ["parks", "list", "--json"]).stdout)
    names = [p["name"] for p in body["green_spaces"]]
    assert names == ["泰山公园", "岱庙广场", "青年路口袋公园", "新建口袋公园"]
    assert [p["opened_on"] for p in body["green_spaces"]][:2] == ["2005-01-01", "2019-06-01"]


def test_csv_and_shapefile_exports(park_file: Path, tmp_path: Path) -> None:
    _ok(["parks", "import", str(park_file), "--commit"])
    assert runner.invoke(app, ["parks", "export", str(tmp_path / "out.csv")]).exit_code == 0
    table = pd.read_csv(io.BytesIO((tmp_path / "out.csv").read_bytes()), encoding="utf-8-sig")
    assert table.columns.tolist() == [
        "id", "code", "name", "kind", "opened", "area_m2", "source", "lon", "lat", "geometry_type",
    ]  # fmt: skip
    assert table["geometry_type"].tolist() == ["Polygon", "MultiPolygon", "Point", "Point"]
    mixed = runner.invoke(app, ["parks", "export", str(tmp_path / "out.shp")])
    assert mixed.exit_code == 2
    assert "a Shapefile holds one geometry type and this register has points and polygons" in mixed.stderr
    only_points = runner.invoke(app, ["parks", "export", str(tmp_path / "pp.shp"), "--kind", "pocket_park"])
    assert only_points.exit_code == 0
    assert len(gpd.read_file(tmp_path / "pp.shp")) == 2


def test_remove_a_source(park_file: Path) -> None:
    _ok(["parks", "import", str(park_file), "--commit"])
    dry = runner.invoke(app, ["parks", "remove", "--source", "parks.gpkg"])
    assert dry.exit_code == 0
    assert "dry run: would remove 4 green spaces" in dry.stderr
    assert "removed 4 green spaces of source 'parks.gpkg'" in _ok(
        ["parks", "remove", "--source", "parks.gpkg", "--commit"]
    )
    missing = runner.invoke(app, ["parks", "remove", "--source", "parks.gpkg"])
    assert missing.exit_code == 2
    assert "the register has no source 'parks.gpkg'" in missing.stderr


@pytest.mark.parametrize(
    ("content", "args", "fragment"),
    [
        ("name,kind,lon,lat\n东湖公园,公园,117.139,36.188\n", [], "declares no CRS; give the source CRS"),
        ("name,kind,lon,lat\n东湖公园,花坛,117.139,36.188\n", ["--crs", "wgs84"],
         "is not a kind of green space"),
        ("name,kind,lon,lat\n东湖公园,公园,116.40,39.90\n", ["--crs", "wgs84"],
         "1 feature(s) lie more than 1,000 m outside 泰安市: '东湖公园'"),
        ("name,kind,lon,lat\n东湖公园,公园,36.188,117.139\n", ["--crs", "wgs84"], "the axes look swapped"),
        ("name,kind,lon,lat\n东湖公园,公园,117.139,36.188\n", ["--crs", "wgs84", "--encoding", "klingon"],
         "unknown --encoding 'klingon'"),
    ],
)  # fmt: skip
def test_broken_files_are_one_clear_line_and_store_nothing(
    tmp_path: Path, content: str, args: list[str], fragment: str
) -> None:
    path = tmp_path / "parks.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["parks", "import", str(path), "--commit", *args])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert "the register is empty" in _ok(["parks", "list"])


def test_an_amap_csv_with_its_crs(tmp_path: Path) -> None:
    path = tmp_path / "amap.csv"
    path.write_text("名称,类型,经度,纬度\n东湖公园,公园,117.139,36.188\n", encoding="utf-8")
    fields = ["--name-field", "名称", "--kind-field", "类型"]
    _ok(["parks", "import", str(path), "--crs", "gcj02", *fields, "--commit"])
    body = json.loads(runner.invoke(app, ["parks", "list", "--json"]).stdout)
    stored = shapely.Point(body["green_spaces"][0]["lon"], body["green_spaces"][0]["lat"])
    moved = gpd.GeoSeries([stored, shapely.Point(117.139, 36.188)], crs=4326).to_crs(4548)
    assert 300 < moved.iloc[0].distance(moved.iloc[1]) < 800
