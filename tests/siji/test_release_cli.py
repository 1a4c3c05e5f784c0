"""The release workflow at the command line, as the data team runs it (the README's
boundary section), on SQLite and PostGIS: every failure of issue 16 reproduced."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner, Result

from boundaries.read import read_boundaries
from siji.cli import app
from store.engine import make_engine
from store.generations import load_frame
from tests.releases import MERGED, MERGED_INTO, NINGYANG, NINGYANG_NEW, SPLIT_NEW, ReleaseFiles

runner = CliRunner()


@pytest.fixture
def siji(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``siji`` on a database of its own (the bundled set imported on first use)."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), env={"SIJI_DATABASE_URL": database_url, "COLUMNS": "200"})

    run.url = database_url  # type: ignore[attr-defined]
    return run


def _flat(result: Result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


def test_the_issue_release_end_to_end(siji, release_files: ReleaseFiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    facts = release_files.facts
    release, broken = str(release_files.release), str(release_files.broken)
    # A community with an unknown parent is never stored, even with --accept-problems.
    refused = siji(
        "boundaries", "import", broken, "--valid-from", "2025-01-01", "--commit", "--accept-problems"
    )
    assert refused.exit_code == 2, refused.output
    assert "1 structural problem (parents), which no option accepts" in _flat(refused)
    assert json.loads(siji("lookup", *map(str, facts.in_merged)).stdout)["community"]["code"] == MERGED[0]
    # Degrees read as EPSG:4548 metres: refused with both readings.
    wrong_crs = siji("boundaries", "import", release, "--crs", "EPSG:4548", "--commit")
    assert wrong_crs.exit_code == 2
    assert "Read in EPSG:4548 they are a set 1.95 m wide" in _flat(wrong_crs)
    assert "read as degrees they are a set 175.9 km wide" in _flat(wrong_crs)
    # A dry run with a problem fails like validate.
    assert siji("boundaries", "import", broken, "--valid-from", "2025-01-01").exit_code == 1

    dry = siji("boundaries", "import", release, "--valid-from", "2025-01-01")
    assert dry.exit_code == 0, dry.output
    shown = _flat(dry)
    assert (
        "changes against generation 1 'taian-2023': 0 new, 0 gone, 1 renamed, 595 re-coded, 1 merged" in shown
    )
    assert "370921… → 370912…: 595 units (370921000000 宁阳县 and 594 below it)" in shown
    assert f"{MERGED[0]} 三里社区居委会 (55%) + {MERGED[1]} 灵山社区居委会 (45%) → {MERGED_INTO}" in shown
    assert "lineage to record: 3,879 links" in shown
    assert "dry run: nothing stored" in shown
    committed = siji(
        "boundaries", "import", release, "--valid-from", "2025-01-01", "--commit", "--name", "r2025"
    )
    assert committed.exit_code == 0, committed.output
    assert "stored generation 2 'r2025'" in committed.stdout

    now = json.loads(siji("lookup", *map(str, facts.in_merged)).stdout)
    assert (now["community"]["code"], now["generation"]["name"]) == (MERGED_INTO, "r2025")
    before = json.loads(siji("lookup", *map(str, facts.in_merged), "--at", "2024-12-31").stdout)
    assert before["community"]["code"] == MERGED[0]
    assert json.loads(siji("lookup", *map(str, facts.in_ningyang)).stdout)["district"]["code"] == NINGYANG_NEW

    table = tmp_path / "lineage.csv"
    assert siji("boundaries", "lineage", "--from", "taian-2023", "--to", "r2025", str(table)).exit_code == 0
    rows = list(csv.DictReader(table.open(encoding="utf-8-sig")))
    assert len({r["old_code"] for r in rows}) == 3877
    assert len({r["new_code"] for r in rows}) == 3877
    merged = {(r["old_code"], r["kind"], r["old_share"]) for r in rows if r["new_code"] == MERGED_INTO}
    assert merged == {(MERGED[0], "merged", "1.0"), (MERGED[1], "merged", "1.0")}
    split = {r["new_code"]: float(r["old_share"]) for r in rows if r["kind"] == "split"}
    assert set(split) == set(SPLIT_NEW)
    assert sum(split.values()) == pytest.approx(1.0, abs=1e-3)

    # Back-dated to 2024: compared with taian-2023, which it replaces, and re-linking r2025.
    backdated = siji("boundaries", "import", release, "--valid-from", "2024-01-01", "--name", "r2024")
    shown = _flat(backdated)
    assert "replaces generation 1 'taian-2023' from that day, until generation 2 'r2025' takes over" in shown
    assert "595 re-coded" in shown
    assert "lineage to re-link generation 2 'r2025' with: 3,877 links (3,877 same)" in shown
    assert (
        siji(
            "boundaries", "import", release, "--valid-from", "2024-01-01", "--name", "r2024", "--commit"
        ).exit_code
        == 0
    )
    assert siji("boundaries", "lineage", "--from", "r2024", "--to", "r2025", str(table)).exit_code == 0
    assert {r["kind"] for r in csv.DictReader(table.open(encoding="utf-8-sig"))} == {"same"}

    listed = json.loads(siji("boundaries", "generations", "--json").stdout)
    assert [(g["name"], g["status"], g["units"]["community"]) for g in listed] == [
        ("taian-2023", "past", 3782),
        ("r2024", "past", 3782),
        ("r2025", "answers today", 3782),
    ]


def test_withdrawing_a_generation_hands_its_days_back(siji, release_files: ReleaseFiles) -> None:  # type: ignore[no-untyped-def]
    release = str(release_files.release)
    assert siji("boundaries", "import", release, "--valid-from", "2025-01-01", "--commit").exit_code == 0
    no_reason = siji("boundaries", "withdraw", "release")
    assert no_reason.exit_code == 2
    assert "give the reason with --reason" in no_reason.output
    withdrawn = siji("boundaries", "withdraw", "release", "--reason", "wrong 宁阳县 codes")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert "generation 2 'release' is withdrawn from 2025-01-01; nothing was deleted" in _flat(withdrawn)
    assert "Today generation 1 'taian-2023' answers" in _flat(withdrawn)
    point = json.loads(siji("lookup", *map(str, release_files.facts.in_ningyang)).stdout)
    assert point["district"]["code"] == NINGYANG
    listed = {g["name"]: g for g in json.loads(siji("boundaries", "generations", "--json").stdout)}
    assert listed["release"]["status"] == "withdrawn"
    assert listed["release"]["notes"]["withdrawals"][0]["reason"] == "wrong 宁阳县 codes"
    engine = make_engine(siji.url)
    try:
        assert len(load_frame(engine, listed["release"]["id"])) == 3877  # nothing deleted
    finally:
        engine.dispose()
    assert siji("boundaries", "withdraw", "release", "--undo", "--reason", "fixed after all").exit_code == 0
    point = json.loads(siji("lookup", *map(str, release_files.facts.in_ningyang)).stdout)
    assert point["district"]["code"] == NINGYANG_NEW


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".parquet", ".geojson"])
def test_export_all_levels_reads_back_unchanged(siji, tmp_path: Path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"all{suffix}"
    exported = siji("boundaries", "export", "--level", "all", str(out))
    assert exported.exit_code == 0, exported.output
    assert "wrote 3,877 units of generation 1 'taian-2023'" in _flat(exported)
    assert "Warning" not in exported.output
    read = read_boundaries(out).sort_values("code").reset_index(drop=True)
    engine = make_engine(siji.url)
    try:
        stored = load_frame(engine, 1).sort_values("code").reset_index(drop=True)
    finally:
        engine.dispose()
    for column in ("code", "name", "level", "parent_code"):
        assert read[column].tolist() == stored[column].tolist(), column
    # The same vertices; a shapefile turns outer rings clockwise, GeoJSON keeps 15 digits.
    read_geoms, stored_geoms = (_as_multi(g.values) for g in (read.geometry, stored.geometry))
    tolerance = 1e-9 if suffix == ".geojson" else 0
    assert shapely.equals_exact(read_geoms, stored_geoms, tolerance=tolerance).all()
    again = siji("boundaries", "import", str(out), "--valid-from", "2026-01-01")
    assert again.exit_code == 0, again.output
    assert "0 new, 0 gone, 0 renamed, 0 re-coded, 0 merged, 0 split, 0 reshaped" in _flat(again)


def _as_multi(geoms: np.ndarray) -> np.ndarray:
    out = np.asarray(geoms, dtype=object).copy()
    polygons = shapely.get_type_id(out) == 3
    if polygons.any():
        out[polygons] = shapely.multipolygons(out[polygons][:, None].tolist())
    return shapely.normalize(out)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_export_at_a_date_and_one_level(siji, release_files: ReleaseFiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    siji("boundaries", "import", str(release_files.release), "--valid-from", "2025-01-01", "--commit")
    old, new = tmp_path / "old.gpkg", tmp_path / "new.gpkg"
    assert siji("boundaries", "export", "--level", "district", "--at", "2024-06-01", str(old)).exit_code == 0
    assert siji("boundaries", "export", "--level", "county", str(new)).exit_code == 0
    assert NINGYANG in gpd.read_file(old)["code"].tolist()
    assert NINGYANG_NEW in gpd.read_file(new)["code"].tolist()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_shapefile_of_the_export_imports_without_spurious_problems(siji, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The DBF cut parent_code to parent_cod: the import found 3,970 'no parent code' problems."""
    out = tmp_path / "all.shp"
    assert siji("boundaries", "export", str(out)).exit_code == 0
    dry = siji("boundaries", "import", str(out), "--valid-from", "2026-01-01")
    assert dry.exit_code == 0, dry.output
    assert "valid: no problems" in dry.output
    gpd.read_file(out).drop(columns=["parent_cod"]).to_file(tmp_path / "cut.shp")
    missing = siji("boundaries", "import", str(tmp_path / "cut.shp"))
    assert missing.exit_code == 2
    assert "'cut.shp' has no field 'parent_code' (the parent code); the file has: code, name, level" in _flat(
        missing
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_dry_run_with_an_overlap_fails_like_validate(siji, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "all.gpkg"
    siji("boundaries", "export", str(out))
    frame = gpd.read_file(out)
    community = frame.index[frame["level"] == "community"][0]
    frame.loc[community, "geometry"] = frame.geometry[community].buffer(0.002)  # over its neighbours
    frame.to_file(tmp_path / "overlap.gpkg")
    for command in ("validate", "import"):
        result = siji("boundaries", command, str(tmp_path / "overlap.gpkg"))
        assert result.exit_code == 1, (command, result.output)
        assert "overlap by" in _flat(result)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_lookup_batch_answers_each_row_by_its_date(siji, release_files: ReleaseFiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """200,000 rows with dates over two generations, re-assigned in one command."""
    siji("boundaries", "import", str(release_files.release), "--valid-from", "2025-01-01", "--commit")
    n = 200_000
    rng = np.random.default_rng(16)
    lon, lat = release_files.facts.in_merged
    days = np.datetime64("2024-01-01") + rng.integers(0, 731, n)
    source = tmp_path / "history.csv"
    with source.open("w", encoding="utf-8") as handle:
        handle.write("case,lon,lat,reported_on\n")
        for i in range(n):
            day = {3: "2024-13-01", 4: "1999-12-31", 5: ""}.get(i, str(days[i]))
            handle.write(f"C{i:06d},{lon:.7f},{lat:.7f},{day}\n")
    result = siji("lookup-batch", str(source), str(tmp_path / "out.csv"), "--date-col", "reported_on")
    assert result.exit_code == 0, result.output
    assert "3 invalid" in result.stdout
    assert "row 4: reported_on='2024-13-01' is not a date" in _flat(result)
    assert (
        "row 5: reported_on=1999-12-31 is before the earliest boundary generation (valid from 2023-01-01)"
        in _flat(result)
    )
    assert "row 6: reported_on is empty" in _flat(result)
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        out = list(csv.DictReader(handle))
    assert [r["case"] for r in out] == [f"C{i:06d}" for i in range(n)]  # order kept
    new = np.array([r["reported_on"] >= "2025-01-01" for r in out]) & ~np.isin(np.arange(n), [3, 4, 5])
    codes = np.array([r["community_code"] for r in out])
    generations = np.array([r["generation"] for r in out])
    assert (codes[new] == MERGED_INTO).all()
    assert (generations[new] == "release").all()
    old = ~new & ~np.isin(np.arange(n), [3, 4, 5])
    assert (codes[old] == MERGED[0]).all()
    assert (generations[old] == "taian-2023").all()
    assert 90_000 < new.sum() < 110_000
    both = siji(
        "lookup-batch",
        str(source),
        str(tmp_path / "x.csv"),
        "--date-col",
        "reported_on",
        "--at",
        "2024-01-01",
    )
    assert both.exit_code == 2
    assert "exclude each other" in both.output
    missing = siji("lookup-batch", str(source), str(tmp_path / "x.csv"), "--date-col", "when")
    assert missing.exit_code == 2
    assert "has no column 'when' for --date-col; its columns: case, lon, lat, reported_on" in _flat(missing)
    assert dt.date.today() >= dt.date(2025, 1, 1)  # the release answers today
