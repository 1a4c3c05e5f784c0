"""The ``siji`` command line, run as a user would (typer's runner, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely import box
from typer.testing import CliRunner

from boundaries.bundled import load_taian
from siji.cli import app
from tests.conftest import units_frame

runner = CliRunner()
BUNDLED = Path(__file__).parents[2] / "boundaries" / "taian" / "data" / "taian_2023.parquet"


pytestmark = pytest.mark.usefixtures("cli_database")


def test_lookup_prints_the_four_levels() -> None:
    result = runner.invoke(app, ["lookup", "117.13", "36.19"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["district"] == {"code": "370902000000", "name": "泰山区"}
    assert body["community"]["name"] == "三里社区居委会"
    assert body["status"] == "ok"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["lookup", "36.19", "117.13"], "look swapped"),
        (["lookup", "117.13", "95"], "lat=95.0 is out of range"),
        (["lookup", "117.13", "36.19", "--crs", "nope"], "unknown CRS 'nope'"),
        (
            ["lookup", "117.13", "36.19", "--at", "1999-01-01"],
            "no boundary generation is valid on 1999-01-01",
        ),
    ],
)
def test_lookup_errors_are_one_clear_line(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_the_bundled_set_passes_the_validator() -> None:
    result = runner.invoke(app, ["boundaries", "validate", str(BUNDLED)])
    assert result.exit_code == 0, result.output
    assert "1 city, 6 district, 88 subdistrict, 3,782 community" in result.stdout
    assert "valid: no problems" in result.stdout


def test_validate_reports_problems_and_exits_1(tmp_path: Path) -> None:
    frame = units_frame()
    geoms = frame.geometry.values.copy()
    geoms[-1] = box(*geoms[-1].bounds)  # grows past its neighbours
    path = tmp_path / "broken.gpkg"
    frame.set_geometry(geoms).to_file(path)
    result = runner.invoke(app, ["boundaries", "validate", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["problems_by_check"]["tiling"] >= 1


TOY_OVER_TAIAN = ["--accept-change", "the toy set replaces the bundled one in this test"]


def test_import_is_a_dry_run_unless_committed(tmp_path: Path) -> None:
    path = tmp_path / "toy.geojson"
    units_frame().to_file(path)
    dry = runner.invoke(
        app, ["boundaries", "import", str(path), "--valid-from", "2024-06-01", *TOY_OVER_TAIAN]
    )
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing stored" in dry.stderr
    assert "6 new codes" not in dry.stderr  # toy codes overlap the bundled ones
    committed = runner.invoke(
        app, ["boundaries", "import", str(path), "--valid-from", "2024-06-01", "--commit", *TOY_OVER_TAIAN]
    )
    assert committed.exit_code == 0, committed.output
    assert "stored generation 2 'toy'" in committed.stdout
    # The toy set now answers; the bundled set still answers for earlier dates.
    now = json.loads(runner.invoke(app, ["lookup", "117.1", "36.17"]).stdout)
    assert now["generation"]["name"] == "toy"
    before = json.loads(runner.invoke(app, ["lookup", "117.13", "36.19", "--at", "2023-06-01"]).stdout)
    assert before["generation"]["name"] == "taian-2023"


def test_import_with_problems_needs_accept_problems(tmp_path: Path) -> None:
    frame = units_frame()
    last = frame.index[-1]
    frame.loc[last, "geometry"] = shapely.affinity.scale(frame.geometry[last], 0.9999, 0.9999)  # slivers
    path = tmp_path / "gappy.geojson"
    frame.to_file(path)
    args = ["boundaries", "import", str(path), "--commit", "--valid-from", "2024-06-01", *TOY_OVER_TAIAN]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "not stored" in refused.stderr
    assert "pass --accept-problems" in refused.stderr
    accepted = runner.invoke(app, [*args, "--accept-problems"])
    assert accepted.exit_code == 0, accepted.output


def test_import_field_mapping_and_gcj02(tmp_path: Path) -> None:
    frame = units_frame().rename(columns={"code": "adcode", "name": "mc", "parent_code": "sj", "level": "jb"})
    path = tmp_path / "mapped.geojson"
    frame.to_file(path)
    result = runner.invoke(
        app,
        ["boundaries", "validate", str(path), "--code-field", "adcode", "--name-field", "mc",
         "--parent-field", "sj", "--level-field", "jb", "--crs", "gcj02"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("level", "count"), [("district", 6), ("subdistrict", 88)])
def test_export_a_level(tmp_path: Path, level: str, count: int) -> None:
    out = tmp_path / f"{level}.gpkg"
    result = runner.invoke(app, ["boundaries", "export", "--level", level, str(out)])
    assert result.exit_code == 0, result.output
    exported = gpd.read_file(out)
    assert len(exported) == count
    assert list(exported.columns) == ["code", "name", "parent_code", "geometry"]


def test_export_unknown_level(tmp_path: Path) -> None:
    result = runner.invoke(app, ["boundaries", "export", "--level", "province", str(tmp_path / "x.gpkg")])
    assert result.exit_code == 2
    assert "unknown level 'province'" in result.stderr


def test_lookup_batch_geoparquet_in_csv_out(tmp_path: Path) -> None:
    frame = load_taian()
    points = frame[frame["level"] == "community"].representative_point().iloc[:500]
    source = tmp_path / "in.parquet"
    gpd.GeoDataFrame({"k": range(500)}, geometry=points.values, crs=4326).to_parquet(source)
    result = runner.invoke(app, ["lookup-batch", str(source), str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    out = (tmp_path / "out.csv").read_text().splitlines()
    assert len(out) == 501
    assert "500 ok" in result.stdout


def test_lookup_batch_on_a_dask_cluster_matches_the_single_process_run(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    source = tmp_path / "in.csv"
    source.write_text("id,lon,lat\n1,117.13,36.19\n2,abc,36\n3,120,30\n4,117.05,36.1\n", encoding="utf-8")
    local = runner.invoke(app, ["lookup-batch", str(source), str(tmp_path / "local.csv")])
    assert local.exit_code == 0, local.output
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = runner.invoke(
            app,
            ["lookup-batch", str(source), str(tmp_path / "dask.csv"), "--dask", cluster.scheduler_address],
        )
    assert remote.exit_code == 0, remote.output
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


@pytest.mark.parametrize(
    ("typo", "suggested"),
    [("bounderies", "'boundaries'"), ("lookupbatch", "'lookup-batch'"), ("webhook", "'webhooks'")],
)
def test_a_mistyped_command_or_group_gets_a_suggestion(typo: str, suggested: str) -> None:
    result = runner.invoke(app, [typo])
    assert result.exit_code == 2
    assert f"No such command '{typo}'. Did you mean {suggested}" in result.output
