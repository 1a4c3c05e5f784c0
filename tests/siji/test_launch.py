"""The ``siji`` executable's fast start (siji/launch.py): a plain ``siji lookup`` from a
fresh process answers as the documented command does, without importing the command
line's heavy parts, and every other form goes to the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from siji.launch import plain_lookup, plain_settings

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
        ({"SIJI_SNAP_DISTANCE_M": "30.5", "SIJI_RATE_LIMIT_PER_TOKEN": "5"}, True),
        ({"SIJI_SNAP_DISTANCE_M": "-1"}, False),
        ({"SIJI_SNAP_DISTANCE_M": "20000"}, False),
        ({"SIJI_INDEX_CACHE_DIR": ""}, False),  # Settings: no cache
        ({"SIJI_INDEX_CACHE_DIR": " /x"}, False),
        ({"Siji_Database_Url": "sqlite:///x.db"}, False),
    ],
)
def test_only_plain_settings_are_read(environ: dict[str, str], taken: bool, tmp_path: Path) -> None:
    assert (plain_settings(environ, tmp_path) is not None) is taken


def test_a_dotenv_file_goes_to_the_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SIJI_SNAP_DISTANCE_M=10\n")
    assert plain_settings({}, tmp_path) is None


_REPORT_IMPORTS = """
import sys
from siji.launch import main
main()
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {%s})), file=sys.stderr)
"""


def _run(command: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SIJI_DATABASE_URL": f"sqlite:///{workdir / 'siji.db'}",
        "SIJI_INDEX_CACHE_DIR": str(workdir / "cache"),
    }
    return subprocess.run(
        [sys.executable, *command], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )


def _siji(args: list[str], workdir: Path, module: str = "siji") -> subprocess.CompletedProcess[str]:
    return _run(["-m", module, *args], workdir)


def _imports(args: list[str], workdir: Path) -> tuple[str, set[str]]:
    """stdout of ``siji *args`` and which of :data:`HEAVY` it imported."""
    done = _run(["-c", _REPORT_IMPORTS % ", ".join(map(repr, HEAVY)), *args], workdir)
    assert done.returncode == 0, done.stderr
    return done.stdout, set(done.stderr.split())


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
