"""Hostile point files through ``siji lookup-batch``: clear errors, no output left, bounded memory.

A file that cannot be read as a whole ends in exit status 2 with a message naming the
problem, and the output path keeps what it held (no partial file, no temporary file).
A file with a few unusable rows succeeds, those rows marked ``invalid`` with the reason.
The worst files also run in a fresh process whose peak memory is measured.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import tests.hostile_inputs as hostile
from batch.formats import MAX_COLUMNS
from siji.cli import app
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.conftest import TOY_VALID_FROM, units_frame

Make = Callable[[Path], Path]
PREVIOUS = "previous result\n"
MEMORY_LIMIT_MB = 600

# (id, writer, output name, fragments the error message must contain)
FAILING: list[tuple[str, Make, str, list[str]]] = [
    (
        "million-columns",
        hostile.million_columns_csv,
        "out.csv",
        ["wide.csv: cannot read it as csv: the header has more than 144,961 columns", "at most 1,000"],
    ),
    (
        "gbk",
        hostile.gbk_csv,
        "out.csv",
        [
            "byte 0xc7 at offset 22 (line 2) is not valid UTF-8",
            "reads as GBK/GB18030: '1,泰山区,117.08,36.17'",
        ],
    ),
    ("latin1", hostile.latin1_csv, "out.parquet", ["byte 0xe9 at offset 21 (line 2) is not valid UTF-8"]),
    ("deep-geojson", hostile.deep_points_geojson, "out.gpkg", ["the JSON nesting is too deep"]),
    (
        "empty",
        lambda folder: hostile.empty_file(folder, "empty.csv"),
        "out.csv",
        ["'empty.csv' is empty (0 bytes)"],
    ),
    (
        "header-of-nul",
        lambda folder: hostile.sparse_file(folder, "big.csv"),
        "out.csv",
        ["NUL byte at offset 0"],
    ),
    (
        "rows-of-nul",
        lambda folder: hostile.sparse_file(folder, "bigh.csv", head=b"lon,lat\n117.08,36.17\n"),
        "out.csv",
        ["a row is longer than 1 MB"],
    ),
    (
        "2gb-parquet",
        lambda folder: hostile.sparse_file(folder, "big.parquet"),
        "out.csv",
        ["not a Parquet file: it starts with the bytes 00 00"],
    ),
    ("2gb-gpkg", lambda folder: hostile.sparse_file(folder, "big.gpkg"), "out.csv", ["not a GeoPackage"]),
    ("2gb-geojson", lambda folder: hostile.sparse_file(folder, "big.geojson"), "out.csv", ["not GeoJSON"]),
    (
        "2gb-geojson-without-features",
        lambda folder: hostile.sparse_file(folder, "big.geojson", head=b'{"type": "FeatureCollection"'),
        "out.csv",
        ["must be a FeatureCollection with its 'features' in the first MB"],
    ),
    (
        "zip-bomb",
        lambda folder: hostile.zip_bomb(folder, 256 << 20, "points.zip", "points.csv"),
        "out.csv",
        ["unknown file extension '.zip'"],
    ),
    (
        "zip-bomb-as-csv",
        lambda folder: hostile.zip_bomb(folder, 256 << 20, "points.csv", "points.csv"),
        "out.csv",
        ["this is a zip archive (unzip it first), not CSV text"],
    ),
    (
        "zip-bomb-as-geojson",
        lambda folder: hostile.zip_bomb(folder, 256 << 20, "points.geojson", "points.geojson"),
        "out.csv",
        ["not GeoJSON: it starts with a zip archive"],
    ),
    (
        "truncated-parquet",
        lambda folder: hostile.truncated_parquet(
            folder, "t.parquet", pd.DataFrame({"lon": [117.08], "lat": [36.17]})
        ),
        "out.csv",
        ["the file is cut short"],
    ),
    ("png-as-csv", lambda folder: hostile.wrong_magic(folder, "p.csv"), "out.csv", ["this is a PNG image"]),
    (
        "png-as-parquet",
        lambda folder: hostile.wrong_magic(folder, "p.parquet"),
        "out.csv",
        ["starts with a PNG"],
    ),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The CLI's environment: a database holding the canonical toy set (no bundled import)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('batch-db')}/siji.db"
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    engine.dispose()
    return {"SIJI_DATABASE_URL": url, "SIJI_LOAD_BUNDLED": "false", "COLUMNS": "250"}


def _run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, ["lookup-batch", *args], env=env)


@pytest.mark.parametrize(
    ("make", "output", "fragments"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING]
)
def test_unreadable_file_fails_clearly_and_leaves_the_output_alone(
    env: dict[str, str], tmp_path: Path, make: Make, output: str, fragments: list[str]
) -> None:
    source = make(tmp_path)
    target = tmp_path / output
    target.write_text(PREVIOUS)

    result = _run(env, str(source), str(target))

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    message = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in message, message
    assert target.read_text() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({source.name, target.name})


def test_unknown_encoding_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    result = _run(env, str(hostile.gbk_csv(tmp_path)), str(tmp_path / "out.csv"), "--encoding", "klingon")
    assert result.exit_code == 2
    assert "unknown --encoding 'klingon'" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_gbk_file_reads_with_its_encoding(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = _run(env, str(hostile.gbk_csv(tmp_path)), str(target), "--encoding", "gb18030")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(target, dtype=str)
    assert rows["name"].tolist() == ["泰山区", "岱岳区"]
    assert rows["status"].tolist() == ["ok", "ok"]


@pytest.mark.parametrize(
    ("make", "statuses", "errors"),
    [
        pytest.param(
            hostile.nan_coordinates_csv,
            ["ok", "invalid", "invalid", "invalid", "invalid", "ok"],
            [
                None,
                "lon='nan' is not a number",
                "lat='inf' is not a number",
                "lon='-inf' is not a number",
                "lon='1e400' is not a number",
                None,
            ],
            id="nan-inf-overflow-csv",
        ),
        pytest.param(
            hostile.nan_points_parquet,
            ["ok", "invalid", "invalid", "invalid"],
            [
                None,
                "lon=nan is not a finite number",
                "lat=inf is not a finite number",
                "geometry is an empty Point",
            ],
            id="nan-inf-empty-geoparquet",
        ),
        pytest.param(
            hostile.swapped_csv, ["invalid", "invalid"], ["look swapped", "look swapped"], id="swapped"
        ),
        pytest.param(hostile.xyz_points, ["ok", "ok"], [None, None], id="xyz-points"),
        pytest.param(hostile.header_only_csv, [], [], id="header-only"),
    ],
)
def test_a_few_bad_rows_are_flagged_not_fatal(
    env: dict[str, str], tmp_path: Path, make: Make, statuses: list[str], errors: list[str | None]
) -> None:
    target = tmp_path / "out.csv"
    result = _run(env, str(make(tmp_path)), str(target))

    assert result.exit_code == 0, result.output
    rows = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert rows["status"].tolist() == statuses
    for got, expected in zip(rows["error"].tolist(), errors, strict=True):
        assert (got == "") if expected is None else (expected in got), (got, expected)


def test_worst_files_fail_in_bounded_memory(env: dict[str, str], tmp_path: Path) -> None:
    """In a fresh process, each case's peak memory stays under the limit and nothing is written."""
    sources = {
        "million-columns": hostile.million_columns_csv(tmp_path),
        "zip-bomb-as-csv": hostile.zip_bomb(tmp_path, 1 << 30, "bomb.csv", "points.csv"),
        "2gb-rows-of-nul": hostile.sparse_file(tmp_path, "big.csv", head=b"lon,lat\n117.08,36.17\n"),
        "2gb-geojson": hostile.sparse_file(tmp_path, "big.geojson", head=b'{"type": "FeatureCollection"'),
    }
    cases = {
        name: ["lookup-batch", str(path), str(tmp_path / f"{name}.csv")] for name, path in sources.items()
    }

    results = hostile.run_cli_measured(cases, env, tmp_path)

    print({name: result["peak_mb"] for name, result in results.items()})  # the figures, shown with -s
    for name, result in results.items():
        assert result["exit_code"] == 2, (name, result)
        assert result["crash"] is None, (name, result)
        assert result["peak_mb"] < MEMORY_LIMIT_MB, (name, result["peak_mb"])
        assert not (tmp_path / f"{name}.csv").exists()
    assert f"at most {MAX_COLUMNS:,}" in results["million-columns"]["output"]
