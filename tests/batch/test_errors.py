"""Bad input files, bad arguments and clashing columns: clear errors, no output left behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from batch import ADDED_COLUMNS, lookup_file
from geo.errors import InvalidInputError, UnknownCRSError
from tests.batch.conftest import write_input


def _only_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty.csv' is empty"),
        ("empty.gpkg", b"", "empty.gpkg' is empty"),
        ("gbk.csv", "名称,lon,lat\n岱岳,117,36\n".encode("gbk"), "gbk.csv: .*not valid UTF-8"),
        (
            "broken.geojson",
            b'{"type": "FeatureCollection", "features": [{"type": ',
            "broken.geojson: cannot read",
        ),
        ("fake.parquet", b"id,lon,lat\n1,2,3\n", "not a Parquet file"),
        ("fake.gpkg", b"this is not sqlite", "fake.gpkg: cannot read"),
        ("ragged.csv", b"id,lon,lat\n1,117,36\n2,117\n", "ragged.csv: cannot read it as csv"),
    ],
)
def test_bad_input_files(index, tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    source = tmp_path / name
    source.write_bytes(content)

    with pytest.raises(InvalidInputError, match=expected):
        lookup_file(index, source, tmp_path / "out.csv")
    assert _only_files(tmp_path) == {name}


def test_missing_input(index, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"nope\.csv' does not exist"):
        lookup_file(index, tmp_path / "nope.csv", tmp_path / "out.csv")


@pytest.mark.parametrize(("source", "target"), [("in.xlsx", "out.csv"), ("in.csv", "out.shp")])
def test_unknown_extension(index, tmp_path: Path, source: str, target: str) -> None:
    (tmp_path / "in.csv").write_text("lon,lat\n117,36\n")
    with pytest.raises(
        InvalidInputError, match=r"unknown file extension '\.(xlsx|shp)'; allowed: \.csv, \.geojson"
    ):
        lookup_file(index, tmp_path / source, tmp_path / target)


def test_missing_xy_column_lists_the_columns(index, tmp_path: Path) -> None:
    source = write_input(tmp_path, "csv")

    with pytest.raises(
        InvalidInputError, match=r"x column 'east' not found; available columns: 'id', 'name'"
    ):
        lookup_file(index, source, tmp_path / "out.csv", x_col="east", y_col="lat")
    with pytest.raises(InvalidInputError, match="give both"):
        lookup_file(index, source, tmp_path / "out.csv", x_col="lon")


def test_no_coordinates_at_all(index, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,address\n1,泰山区\n")

    with pytest.raises(
        InvalidInputError, match=r"no coordinate columns found .*available columns: 'id', 'address'"
    ):
        lookup_file(index, source, tmp_path / "out.csv")


def test_unknown_crs_leaves_nothing(index, tmp_path: Path) -> None:
    source = write_input(tmp_path, "csv")
    with pytest.raises(UnknownCRSError):
        lookup_file(index, source, tmp_path / "out.csv", crs="mars-2")
    assert _only_files(tmp_path) == {source.name}


def test_missing_output_directory(index, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        lookup_file(index, write_input(tmp_path, "csv"), tmp_path / "no" / "out.csv")


@pytest.mark.parametrize("ext", [".csv", ".geojson", ".gpkg", ".parquet"])
def test_failure_midway_leaves_no_partial_output(
    index, tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small CSV blocks, valid UTF-8 for 5,000 rows, then a GBK row: the error comes
    # only after many chunks were written.
    monkeypatch.setattr("batch.formats.CSV_BLOCK_BYTES", 4096)
    source = tmp_path / "late.csv"
    good = "".join(f"{i},117.05,36.1\n" for i in range(5000))
    source.write_bytes(("id,lon,lat\n" + good).encode() + "名称,117.05,36.1\n".encode("gbk"))
    written: list[int] = []
    target = tmp_path / f"out{ext}"
    target.write_text("previous result")

    with pytest.raises(InvalidInputError, match=r"late\.csv: .*not valid UTF-8"):
        lookup_file(index, source, target, chunk_rows=100, progress=lambda rows, *_: written.append(rows))

    assert written[-1] >= 4000  # it failed late
    assert target.read_text() == "previous result"  # untouched
    assert _only_files(tmp_path) == {"late.csv", target.name}


def test_partial_clash_is_refused(index, tmp_path: Path) -> None:
    source = tmp_path / "cases.csv"
    source.write_text("case,Status,lon,lat\n1,closed,117.05,36.1\n")

    with pytest.raises(InvalidInputError, match=r"column\(s\) 'Status' clash with the columns siji adds"):
        lookup_file(index, source, tmp_path / "out.csv")


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".gpkg"])
def test_rerun_on_output_replaces_added_columns(index, tmp_path: Path, ext: str) -> None:
    first = tmp_path / f"first{ext}"
    second = tmp_path / f"second{ext}"
    lookup_file(index, write_input(tmp_path, "csv"), first)

    summary = lookup_file(index, first, second)

    assert summary.replaced_columns == list(ADDED_COLUMNS)
    a = pd.DataFrame(_read(first))
    b = pd.DataFrame(_read(second))
    assert a.columns.tolist() == b.columns.tolist()
    # Spatial re-runs read the points from the geometry written the first time, which is
    # null where lon/lat were unusable, so only the reasons of those rows differ.
    same = [c for c in a.columns if c != "error"]
    pd.testing.assert_frame_equal(a[same], b[same])
    assert (a["error"].isna() == b["error"].isna()).all()


def _read(path: Path) -> pd.DataFrame:
    from tests.batch.conftest import read_output

    return read_output(path)
