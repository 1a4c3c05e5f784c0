"""A boundary release reaching a running service, on SQLite and PostGIS: the switch,
open cases moving to their successors with a history record, tokens of vanished
units refused naming the successor, old codes leading to their successors, and
lookups by each row's date."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import Settings
from boundaries.read import read_boundaries
from boundaries.release import commit_release, plan_release
from boundaries.validate import validate
from routing.handover import hand_over_open_cases
from routing.staff import issue
from siji.cli import app as cli
from tests.api.conftest import NO_RATE_LIMITS
from tests.releases import MERGED, MERGED_INTO, NINGYANG, NINGYANG_NEW, ReleaseFiles

TODAY = dt.date.today()


def _report(client: TestClient, point: tuple[float, float], category: str) -> dict:
    body = {"lon": point[0], "lat": point[1], "category": category, "description": "测试", "channel": "app"}
    response = client.post("/v1/reports", json=body)
    assert response.status_code == 201, response.text
    return response.json()["report"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_release_reaches_the_running_service(database_url: str, release_files: ReleaseFiles) -> None:
    settings = Settings(
        database_url=database_url, environment="test", escalation_interval_s=0, **NO_RATE_LIMITS
    )  # type: ignore[arg-type]
    facts = release_files.facts
    with TestClient(create_app(settings)) as client:
        boundaries = client.app.state.boundaries  # type: ignore[attr-defined]
        engine = boundaries.engine
        county, _ = issue(engine, name="宁阳县 supervisor", unit_key=NINGYANG, role="supervisor")
        city, _ = issue(engine, name="city supervisor", unit_key="370900000000", role="supervisor")
        in_merged = _report(client, facts.in_merged, "S-04-04")  # a community's case
        in_ningyang = _report(client, facts.in_ningyang, "S-01-01")  # a 街道's case
        district_case = _report(client, facts.in_ningyang, "B-01-01")  # the county's department
        assert in_merged["owner"]["key"] == MERGED[0]
        assert district_case["owner"]["key"] == f"{NINGYANG}:城管局"  # the county's department

        frame = read_boundaries(release_files.release)
        info = commit_release(engine, plan_release(engine, frame, TODAY, validate(frame)), name="release")
        boundaries.refresh()  # what the service's watcher does every ACTIVE_TTL_S seconds

        answer = client.get(
            "/v1/lookup", params={"lon": facts.in_merged[0], "lat": facts.in_merged[1]}
        ).json()
        assert (answer["community"]["code"], answer["generation"]["name"]) == (MERGED_INTO, "release")
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["generation"]["name"], ready["failed"]) == ("ready", "release", None)

        # Open cases moved to the units that own their place now, as a step of their history.
        moved = client.get(f"/v1/reports/{in_merged['id']}", headers=_bearer(city)).json()
        assert moved["owner"]["key"] == MERGED_INTO
        assert moved["jurisdiction"]["generation_id"] == info.id
        step = moved["events"][-1]
        assert (step["action"], step["actor"], step["from_state"], step["to_state"]) == (
            "handover", "system:boundary-release", "reported", "reported",
        )  # fmt: skip
        assert f"{MERGED[0]} 三里社区居委会 is not in boundary generation {info.id} 'release'" in step["note"]
        assert step["data"]["from"]["owner_key"] == MERGED[0]
        assert step["data"]["generation"] == {"id": info.id, "name": "release"}
        for case in (in_ningyang, district_case):
            view = client.get(f"/v1/reports/{case['id']}", headers=_bearer(city)).json()
            assert view["owner"]["key"].startswith("370912")
            assert view["jurisdiction"]["district_code"] == NINGYANG_NEW
        department = client.get(f"/v1/reports/{district_case['id']}", headers=_bearer(city)).json()
        assert department["owner"]["key"] == f"{NINGYANG_NEW}:城管局"  # the same department of the new code
        assert hand_over_open_cases(engine, info, boundaries.index()[1]) == []  # once only

        # The county's old token is refused, naming its successor; a token of the new code sees the cases.
        refused = client.get("/v1/reports", headers=_bearer(county))
        assert refused.status_code == 401
        error = refused.json()["error"]
        assert error["code"] == "token_unit_vanished"
        assert f"its successor is {NINGYANG_NEW} 宁阳县 (re-coded)" in error["message"]
        assert f"siji staff add --unit {NINGYANG_NEW}" in error["message"]
        new_county, _ = issue(engine, name="宁阳县 supervisor", unit_key=NINGYANG_NEW, role="supervisor")
        seen = client.get("/v1/reports", headers=_bearer(new_county)).json()
        assert {in_ningyang["id"], district_case["id"]} <= {r["id"] for r in seen["reports"]}

        # An old code leads to its successors and to the at= to use.
        gone = client.get(f"/v1/units/{MERGED[0]}")
        assert gone.status_code == 404
        message, detail = gone.json()["error"]["message"], gone.json()["error"]["detail"]
        yesterday = TODAY - dt.timedelta(days=1)
        assert f"ask with at={yesterday} for the unit itself" in message
        assert f"it continues as {MERGED_INTO} 三里灵山社区居委会 (merged, 100% of its area)" in message
        assert detail["successors"][0]["code"] == MERGED_INTO
        assert detail["at"] == str(yesterday)
        assert [g["name"] for g in detail["valid_in"]] == ["taian-2023"]
        old = client.get(f"/v1/units/{MERGED[0]}", params={"at": str(yesterday)})
        assert old.status_code == 200
        assert {(k["successor_code"], k["kind"]) for k in old.json()["lineage"]} == {(MERGED_INTO, "merged")}
        future = client.get(f"/v1/units/{NINGYANG_NEW}", params={"at": "2024-06-01"})
        assert future.status_code == 404
        assert f"ask with at={TODAY}" in future.json()["error"]["message"]
        assert client.get(f"/v1/units/{MERGED[0]}/children").status_code == 404

        # Each point by its own date.
        points = [
            {"id": 1, "lon": facts.in_merged[0], "lat": facts.in_merged[1], "date": str(yesterday)},
            {"id": 2, "lon": facts.in_merged[0], "lat": facts.in_merged[1], "date": str(TODAY)},
            {"id": 3, "lon": facts.in_merged[0], "lat": facts.in_merged[1], "date": "2024-02-30"},
        ]
        dated = client.post("/v1/lookup", params={"date_col": "date"}, json={"points": points}).json()
        rows = dated["results"]
        assert [(r["id"], r["community_code"], r["generation"]) for r in rows] == [
            (1, MERGED[0], "taian-2023"),
            (2, MERGED_INTO, "release"),
            (3, None, None),
        ]
        assert rows[2]["status"] == "invalid"
        assert "date='2024-02-30' is not a date" in rows[2]["error"]
        csv_body = f"id,lon,lat,day\n1,{facts.in_merged[0]},{facts.in_merged[1]},{yesterday}\n"
        csv_body += f"2,{facts.in_merged[0]},{facts.in_merged[1]},{TODAY}\n"
        as_csv = client.post(
            "/v1/lookup?date_col=day&format=csv", content=csv_body, headers={"content-type": "text/csv"}
        )
        assert as_csv.status_code == 200, as_csv.text
        lines = as_csv.text.splitlines()
        assert lines[0].endswith('"error","generation"')
        assert [line.rsplit(",", 1)[1] for line in lines[1:]] == ['"taian-2023"', '"release"']
        both = client.post(
            "/v1/lookup", params={"date_col": "date", "at": "2024-01-01"}, json={"points": points}
        )
        assert both.status_code == 422

    env = {"SIJI_DATABASE_URL": database_url, "COLUMNS": "200"}
    stale = CliRunner().invoke(cli, ["staff", "stale"], env=env)
    assert stale.exit_code == 0, stale.output
    assert NINGYANG in stale.stdout
    assert NINGYANG_NEW in stale.stdout
    add = CliRunner().invoke(
        cli, ["staff", "add", "--name", "x", "--unit", NINGYANG, "--role", "handler"], env=env
    )
    assert add.exit_code == 2
    assert f"its successor is {NINGYANG_NEW} 宁阳县 (re-coded): use --unit {NINGYANG_NEW}" in " ".join(
        add.output.split()
    )
    again = CliRunner().invoke(cli, ["routing", "handover"], env=env)
    assert "handed over 0 open cases" in again.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failing_index_leaves_the_service_on_the_last_good_generation(
    database_url: str, release_files: ReleaseFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boundaries.bundled as bundled_module
    import boundaries.service as service_module
    from boundaries.bundled import IndexCheckError, checked_index

    # No index cache: the release's index may be on disk from another test, and this
    # one needs its build to run (and fail).
    settings = Settings(
        database_url=database_url, environment="test", escalation_interval_s=0, index_cache_dir="",
        **NO_RATE_LIMITS,
    )  # type: ignore[arg-type]  # fmt: skip
    with TestClient(create_app(settings)) as client:
        boundaries = client.app.state.boundaries  # type: ignore[attr-defined]
        frame = read_boundaries(release_files.release)
        engine = boundaries.engine
        info = commit_release(engine, plan_release(engine, frame, TODAY, validate(frame)), name="release")

        def failing(frame, snap_distance_m):  # type: ignore[no-untyped-def]
            if len(frame) and frame["code"].str.startswith("370912").any():
                raise IndexCheckError("the index answers wrongly for 1 of 3,782 units")
            return checked_index(frame, snap_distance_m)

        monkeypatch.setattr(bundled_module, "checked_index", failing)
        boundaries.refresh()
        point = release_files.facts.in_ningyang
        answer = client.get("/v1/lookup", params={"lon": point[0], "lat": point[1]})
        assert answer.status_code == 200
        assert answer.json()["generation"]["name"] == "taian-2023"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded"
        assert body["failed"]["name"] == "release"
        assert "answers wrongly" in body["failed"]["reason"]
        assert "answering from generation 'taian-2023'" in body["problem"]
        at = client.get("/v1/lookup", params={"lon": point[0], "lat": point[1], "at": str(TODAY)})
        assert at.status_code == 503
        assert at.json()["error"]["code"] == "index_unavailable"
        monkeypatch.setattr(bundled_module, "checked_index", checked_index)
        monkeypatch.setattr(service_module, "REBUILD_AFTER_S", 0.0)
        boundaries.failure = None  # the retry time passed
        boundaries.refresh()
        assert client.get("/readyz").json()["generation"]["name"] == "release"
        assert info.name == "release"
