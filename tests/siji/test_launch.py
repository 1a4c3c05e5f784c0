"""The ``siji`` executable's fast start (siji/launch.py): a plain ``siji lookup`` or
``siji lookup-batch`` from a fresh process answers as the documented command does,
without importing the command line's heavy parts, and every other form, or any other
setting, goes to the command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest

from siji.launch import plain_lookup, plain_lookup_batch, plain_settings

ROOT = Path(__file__).parents[2]
HEAVY = ("sqlalchemy", "geoalchemy2", "pandas", "geopandas", "typer", "rich", "pydantic_settings")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lookup", "117.13", "36.19"], (117.13, 36.19)),
        (["lookup", "117", "36."], (117.0, 36.0)),
        (["lookup", "-117.13", "36.19"], None),  # typer's: an option
        (["lookup", "1e2", "36"], None),
        (["lookup", "117.13", "36.19", "--at", "2024-01-01"], None),
        (["lookup", "117.13"], None),
        (["lookup-batch", "a.csv", "b.csv"], None),
        (["lookup", "--help", "36"], None),
    ],
)
def test_only_the_plain_form_is_taken(argv: list[str], expected: tuple[float, float] | None) -> None:
    assert plain_lookup(argv) == expected


@pytest.mark.parametrize(
    ("environ", "taken"),
    [
        ({}, True),
        ({"SIJI_SNAP_DISTANCE_M": "30.5", "SIJI_DATABASE_URL": "sqlite:///x.db"}, True),
        ({"SIJI_SNAP_DISTANCE_M": "30.5", "SIJI_RATE_LIMIT_PER_TOKEN": "5"}, False),  # Settings checks it
        ({"SIJI_ENVIRONMENT": "production"}, False),
        ({"SIJI_SNAP_DISTANCE_M": "-1"}, False),
        ({"SIJI_SNAP_DISTANCE_M": "20000"}, False),
        ({"SIJI_INDEX_CACHE_DIR": ""}, False),  # Settings: no cache
        ({"SIJI_INDEX_CACHE_DIR": " /x"}, False),
        ({"Siji_Database_Url": "sqlite:///x.db"}, False),
    ],
)
def test_only_plain_settings_are_read(environ: dict[str, str], taken: bool, tmp_path: Path) -> None:
    assert (plain_settings(environ, tmp_path) is not None) is taken


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lookup-batch", "in.csv", "out.parquet"], (Path("in.csv"), Path("out.parquet"))),
        (["lookup-batch", "in.csv", "--crs", "gcj02", "out.csv"], None),
        (["lookup-batch", "in.csv", "-"], None),
        (["lookup-batch", "", "out.csv"], None),
        (["lookup-batch", "in.csv"], None),
        (["lookup", "in.csv", "out.csv"], None),
    ],
)
def test_only_the_plain_batch_form_is_taken(argv: list[str], expected: tuple[Path, Path] | None) -> None:
    assert plain_lookup_batch(argv) == expected


def test_a_dotenv_file_goes_to_the_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SIJI_SNAP_DISTANCE_M=10\n")
    assert plain_settings({}, tmp_path) is None


_REPORT_IMPORTS = """
import sys
from siji.launch import main
main()
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {%s})), file=sys.stderr)
"""


def _run(command: list[str], workdir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{name: value for name, value in os.environ.items() if not name.upper().startswith("SIJI_")},
        **settings,
        "PYTHONPATH": str(ROOT),
        "SIJI_DATABASE_URL": f"sqlite:///{workdir / 'siji.db'}",
        "SIJI_INDEX_CACHE_DIR": str(workdir / "cache"),
    }
    return subprocess.run(
        [sys.executable, *command], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )


def _siji(
    args: list[str], workdir: Path, module: str = "siji", **settings: str
) -> subprocess.CompletedProcess[str]:
    return _run(["-m", module, *args], workdir, **settings)


def _imports(args: list[str], workdir: Path) -> tuple[str, set[str]]:
    """stdout of ``siji *args`` and which of :data:`HEAVY` it imported."""
    done = _run(["-c", _REPORT_IMPORTS % ", ".join(map(repr, HEAVY)), *args], workdir)
    assert done.returncode == 0, done.stderr
    return done.stdout, set(done.stderr.splitlines()[-1].split())  # the last line: after main()


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [("117.13", "36.19"), ("116.4513631", "35.8217627"), ("120.5", "38.5")],
    ids=["inside", "snapped to the edge", "outside"],
)
def test_a_fresh_lookup_answers_as_the_command_without_its_imports(
    tmp_path: Path, point: tuple[str, str]
) -> None:
    first = _siji(["lookup", *point], tmp_path)  # imports the bundled set, builds and caches the index
    assert first.returncode == 0, first.stderr
    output, heavy = _imports(["lookup", *point], tmp_path)
    assert heavy == set()
    assert json.loads(output) == json.loads(first.stdout)
    command = _siji(["lookup", *point], tmp_path, module="siji.cli")  # the documented command itself
    assert command.stdout == output


@pytest.mark.slow
def test_errors_are_the_commands(tmp_path: Path) -> None:
    first = _siji(["lookup", "117.13", "36.19"], tmp_path)
    assert first.returncode == 0, first.stderr
    swapped = _siji(["lookup", "36.19", "117.13"], tmp_path)
    assert swapped.returncode == 2
    assert "look swapped" in swapped.stderr
    assert "Traceback" not in swapped.stderr


_TIMING = re.compile(r" in [0-9.]+ s, [0-9,]+ rows/s")


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_fresh_batch_answers_as_the_command_without_its_imports(tmp_path: Path, suffix: str) -> None:
    first = _siji(["lookup", "117.13", "36.19"], tmp_path)  # imports the bundled set, caches the index
    assert first.returncode == 0, first.stderr
    points = gpd.GeoDataFrame(
        {"id": ["in", "edge", "out", "swapped", "nan"]},
        geometry=gpd.points_from_xy(
            [117.13, 116.4513631, 120.5, 36.19, float("nan")], [36.19, 35.8217627, 38.5, 117.13, 36]
        ),
        crs=4326,
    )
    if suffix == ".csv":
        points.assign(lon=points.geometry.x, lat=points.geometry.y).drop(columns="geometry").to_csv(
            tmp_path / "in.csv", index=False
        )
    else:
        points.to_parquet(tmp_path / "in.parquet")
    output, heavy = _imports(["lookup-batch", f"in{suffix}", f"fast{suffix}"], tmp_path)
    # The progress bar and the summary are the command's (rich).
    assert heavy == {"rich"}
    command = _siji(["lookup-batch", f"in{suffix}", f"slow{suffix}"], tmp_path, module="siji.cli")
    assert command.returncode == 0, command.stderr
    if suffix == ".csv":
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()
    else:
        assert pq.read_table(tmp_path / "fast.parquet").equals(pq.read_table(tmp_path / "slow.parquet"))
    shown = _TIMING.sub("", output).replace(f"fast{suffix}", "out")
    assert shown == _TIMING.sub("", command.stdout).replace(f"slow{suffix}", "out")
    assert all(count in shown for count in ("1 snapped", "1 outside", "2 invalid"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["lookup", "117.13", "36.19"], ["lookup-batch", "in.csv", "out.csv"]],
    ids=["lookup", "lookup-batch"],
)
def test_a_bad_setting_is_reported_by_the_fast_forms_too(tmp_path: Path, args: list[str]) -> None:
    first = _siji(["lookup", "117.13", "36.19"], tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "in.csv").write_text("lon,lat\n117.13,36.19\n")
    bad = _siji(args, tmp_path, SIJI_ENVIRONMENT="production")  # and no SIJI_SECRET_KEY
    documented = _siji(args, tmp_path, module="siji.cli", SIJI_ENVIRONMENT="production")
    assert bad.returncode == documented.returncode == 2
    assert bad.stderr == documented.stderr
    assert "SIJI_SECRET_KEY" in bad.stderr


@pytest.mark.slow
def test_batch_errors_are_the_commands(tmp_path: Path) -> None:
    first = _siji(["lookup", "117.13", "36.19"], tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    fast = _siji(["lookup-batch", "in.csv", "out.csv"], tmp_path)
    documented = _siji(["lookup-batch", "in.csv", "out.csv"], tmp_path, module="siji.cli")
    assert fast.returncode == documented.returncode == 2
    assert fast.stderr.splitlines()[-1] == documented.stderr.splitlines()[-1]
    assert "error:" in fast.stderr
    assert "Traceback" not in fast.stderr
    assert not (tmp_path / "out.csv").exists()
