"""Command-line output as a user sees it in a pipe: whole tables, the progress bar ended
before the summary, nouns in the right number."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.table import Table

from siji.console import PIPED_WIDTH, WholeConsole

LONG = "城市管理综合执法支队第一大队" * 8  # 112 characters, 224 columns


def _table() -> Table:
    table = Table(title="tokens")
    for column in ("id", "name", "unit", "role"):
        table.add_column(column)
    table.add_row("1", LONG, "370902000000:城管局", "dispatcher")
    return table


@pytest.mark.parametrize(("columns", "whole"), [(None, True), ("60", False)])
def test_a_table_in_a_pipe_is_whole_unless_columns_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, columns: str | None, whole: bool
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    buffer = io.StringIO()
    console = WholeConsole(file=buffer, soft_wrap=True)
    assert console.width == (PIPED_WIDTH if whole else int(columns or 0))
    console.print(_table())
    text = buffer.getvalue()
    assert (LONG in text) is whole
    assert ("…" in text) is not whole
    widest = max(len(line) for line in text.splitlines())
    assert widest > 80 if whole else widest <= 60


def _siji(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``siji ARGS`` in a fresh process, stdout and stderr into one pipe (as ``2>&1 | less``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["SIJI_DATABASE_URL"] = f"sqlite:///{tmp_path}/cli.db"
    return subprocess.run(
        [sys.executable, "-m", "siji.cli", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )


def test_staff_list_in_a_pipe_shows_every_column_whole(tmp_path: Path) -> None:
    added = _siji(tmp_path, "staff", "add", "--name", LONG, "--unit", "370902:城管局", "--role", "handler")
    assert added.returncode == 0, added.stdout
    listed = _siji(tmp_path, "staff", "list")
    assert listed.returncode == 0, listed.stdout
    assert LONG in listed.stdout
    assert "370902000000:城管局" in listed.stdout
    assert "…" not in listed.stdout


@pytest.mark.parametrize(
    ("rows", "summary"),
    [(["117.13,36.19"], "1 row → "), (["117.13,36.19", "117.0,36.2", "200,1"], "3 rows → ")],
)
def test_lookup_batch_ends_its_progress_bar_before_the_summary(
    tmp_path: Path, rows: list[str], summary: str
) -> None:
    (tmp_path / "in.csv").write_text("lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ran = _siji(tmp_path, "lookup-batch", "in.csv", "out.csv")
    assert ran.returncode == 0, ran.stdout
    lines = ran.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if summary in line)
    assert lines[at].startswith(summary), lines[at]  # on a line of its own
    assert lines[at].endswith(" rows/s")
    assert any(line.startswith("lookup in.csv") for line in lines[:at])  # the bar came first
    assert not any(line.startswith("lookup in.csv") for line in lines[at:])
