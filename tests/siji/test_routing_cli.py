"""``siji staff`` and ``siji routing`` as a supervisor runs them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siji.cli import app

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("cli_database")


def test_staff_tokens_issue_list_revoke() -> None:
    added = runner.invoke(
        app, ["staff", "add", "--name", "王五", "--unit", "370902002000", "--role", "dispatcher"]
    )
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("sj_")
    assert "not shown again" in added.stderr
    listed = runner.invoke(app, ["staff", "list"])
    assert "王五" in listed.stdout
    assert token not in listed.stdout
    assert runner.invoke(app, ["staff", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["staff", "revoke", "1"]).stdout
    missing = runner.invoke(app, ["staff", "revoke", "99"])
    assert missing.exit_code == 2
    assert "staff token 99 does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--unit", "999999999999", "--role", "dispatcher"], "unit code '999999999999' is not in the active"),
        (["--unit", "370902002000", "--role", "boss"], "unknown role 'boss'"),
        (
            ["--unit", "city:不存在局", "--role", "handler"],
            "'不存在局' is not a city department; known: city:城管局",
        ),
        (
            ["--unit", "district:城管局", "--role", "handler"],
            "keyed by its district's code, e.g. 370902000000:城管局",
        ),
        (
            ["--unit", "370902000000:不存在局", "--role", "handler"],
            "known: 370902000000:城管局, 370902000000:教育",
        ),
        (["--unit", "370999", "--role", "handler"], "unit code '370999' (read as 370999000000) is not in"),
        (["--unit", "370999:城管局", "--role", "handler"], "allowed: a 12-digit unit code (370902000000)"),
        (["--unit", "370902:不存在局", "--role", "handler"], "known: 370902000000:城管局"),
    ],
)
def test_staff_add_refuses_unknown_units_and_roles(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["staff", "add", "--name", "x", *args])
    assert result.exit_code == 2
    assert fragment in result.stderr


@pytest.mark.parametrize(
    ("unit", "role"),
    [
        ("370902000000:城管局", "handler"),
        ("370902000000:教育和体育局", "dispatcher"),
        ("city:园林局", "supervisor"),
    ],
)
def test_staff_add_issues_department_tokens(unit: str, role: str) -> None:
    added = runner.invoke(app, ["staff", "add", "--name", "部门", "--unit", unit, "--role", role])
    assert added.exit_code == 0, added.output
    assert f"({role} of {unit})" in added.stderr


@pytest.mark.parametrize(
    ("unit", "kept"),
    [
        ("370902", "370902000000"),
        ("370902002", "370902002000"),
        ("370902:城管局", "370902000000:城管局"),
        ("370900", "370900000000"),
    ],
)
def test_staff_add_keeps_the_12_digit_code_of_a_short_one(unit: str, kept: str) -> None:
    added = runner.invoke(app, ["staff", "add", "--name", "短码", "--unit", unit, "--role", "supervisor"])
    assert added.exit_code == 0, added.output
    assert f"(supervisor of {kept})" in added.stderr
    assert kept in runner.invoke(app, ["staff", "list"]).stdout


def test_escalate_and_metrics_commands(tmp_path: Path) -> None:
    from routing.access import Principal
    from routing.intake import ReportIn
    from siji.routing_cli import _report_service

    service = _report_service()
    rid = service.submit(ReportIn(117.13, 36.19, "S-01-01", "暴露垃圾", "patrol")).report["id"]
    dispatcher = Principal("staff", name="d", role="dispatcher", unit_key="370902002000")
    for action in ("verify", "file", "dispatch"):
        service.act(rid, action, dispatcher)
    result = runner.invoke(app, ["routing", "escalate"])
    assert result.exit_code == 0, result.output
    assert "escalated 0 overdue cases" in result.stdout  # just dispatched: not overdue
    today = dt.date.today()
    csv = tmp_path / "metrics.csv"
    shown = runner.invoke(
        app,
        ["routing", "metrics", "--start", str(today - dt.timedelta(days=1)),
         "--end", str(today + dt.timedelta(days=30)), "--csv", str(csv)],
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "unit performance" in shown.stdout
    assert "结案率" in csv.read_text(encoding="utf-8-sig").splitlines()[0]
    assert "财源街道" in csv.read_text(encoding="utf-8-sig")
    as_json = runner.invoke(
        app,
        ["routing", "metrics", "--start", str(today), "--end", str(today + dt.timedelta(days=30)), "--json"],
    )
    rows = json.loads(as_json.stdout)
    assert [(r["unit_key"], r["due"], r["rating"]) for r in rows] == [("370902002000", 1, "unrated")]
