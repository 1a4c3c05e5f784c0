"""``siji webhooks`` as an operator runs it: add, list, dead letters, replay, remove, run the loop."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from siji.cli import app

runner = CliRunner()
SECRET = "cli-webhook-secret-0123456789"


pytestmark = pytest.mark.usefixtures("cli_database")


def test_add_list_replay_remove() -> None:
    added = runner.invoke(
        app,
        ["webhooks", "add", "--unit", "370902002001", "--url", "http://127.0.0.1:9/hook", "--secret", SECRET,
         "--type", "dispatch", "--type", "escalate"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "webhook 1 for 370902002001 → http://127.0.0.1:9/hook" in added.stdout
    listed = json.loads(runner.invoke(app, ["webhooks", "list", "--json"]).stdout)
    assert [(w["id"], w["types"], w["pending"], w["dead"]) for w in listed] == [
        (1, ["dispatch", "escalate"], 0, 0)
    ]
    assert SECRET not in runner.invoke(app, ["webhooks", "list"]).stdout
    dead = json.loads(runner.invoke(app, ["webhooks", "dead-letters", "1", "--json"]).stdout)
    assert dead == {"total": 0, "deliveries": []}
    assert (
        "0 dead letters of webhook 1 queued again" in runner.invoke(app, ["webhooks", "replay", "1"]).stdout
    )
    assert runner.invoke(app, ["webhooks", "run", "--rounds", "1"]).exit_code == 0
    assert "webhook 1 removed" in runner.invoke(app, ["webhooks", "remove", "1"]).stdout
    missing = runner.invoke(app, ["webhooks", "remove", "7"])
    assert missing.exit_code == 2
    assert "webhook 7 does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--unit", "370902002001", "--url", "ftp://x", "--secret", SECRET], "url 'ftp://x' is not allowed"),
        (["--unit", "370902002001", "--url", "http://x", "--secret", "short"], "the secret has 5 characters"),
        (["--unit", "999", "--url", "http://x", "--secret", SECRET], "unit code '999' is not in the active"),
        (
            ["--unit", "370902002001", "--url", "http://x", "--secret", SECRET, "--type", "dispatched"],
            "unknown event type 'dispatched'",
        ),
    ],
)
def test_add_refuses_bad_input_in_one_line(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["webhooks", "add", *args])
    assert result.exit_code == 2
    assert fragment in result.stderr


def test_a_bad_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIJI_DELIVERY_LEASE_S", "5")
    result = runner.invoke(app, ["webhooks", "list"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: SIJI_DELIVERY_LEASE_S=5 must be at least twice SIJI_WEBHOOK_TIMEOUT_S=10: a round of "
        "deliveries must end while its process still holds the lease"
    )
    monkeypatch.setenv("SIJI_DELIVERY_LEASE_S", "-1")
    assert (
        "SIJI_DELIVERY_LEASE_S='-1': Input should be greater than or equal to 1"
        in runner.invoke(app, ["webhooks", "list"]).stderr
    )
