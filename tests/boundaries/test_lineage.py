"""Lineage from geometry: every old and new code linked, with a kind and the shares."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from boundaries.lineage import Link, declared_predecessors, lineage
from tests.common import C111, C112, C121, C211, C212, C213, D2, S11, UNITS, lonlat
from tests.conftest import units_frame
from tests.releases import MERGED, MERGED_INTO, NEW_NAME, RENAMED, SPLIT_NEW, SPLIT_OLD, STRIP_FROM, STRIP_TO

MERGED_TOY = "370902001099"


def _merge_c111_c112():  # type: ignore[no-untyped-def]
    frame = units_frame()
    rows = frame["code"].isin([C111, C112])
    merged = shapely.union_all(frame.geometry[rows].to_numpy())
    kept = frame[~rows]
    row = frame[frame["code"] == C111].assign(code=MERGED_TOY, name="合并社区")
    row = row.set_geometry([merged], crs=4326)
    return pd.concat([kept, row], ignore_index=True)


def _split_c212():  # type: ignore[no-untyped-def]
    frame = units_frame()
    old = frame[frame["code"] == C212].iloc[0]
    west = shapely.intersection(old.geometry, box(*lonlat(6, 0), *lonlat(7, 1)))
    east = shapely.difference(old.geometry, west)
    parts = frame[frame["code"] == C212].iloc[[0, 0]].assign(code=["370911001011", "370911001012"])
    parts = parts.set_geometry([west, east], crs=4326)
    return pd.concat([frame[frame["code"] != C212], parts], ignore_index=True)


def _recode_d2():  # type: ignore[no-untyped-def]
    frame = units_frame()
    for column in ("code", "parent_code"):
        frame[column] = frame[column].str.replace("370911", "370912")
    return frame


def _rename_s11():  # type: ignore[no-untyped-def]
    frame = units_frame()
    frame.loc[frame["code"] == S11, "name"] = "新名街道"
    return frame


def _strip_c211_to_c212():  # type: ignore[no-untyped-def]
    frame = units_frame()
    strip = box(*lonlat(5.5, 0), *lonlat(6, 1))
    geoms = frame.geometry.to_numpy().copy()
    codes = frame["code"].to_numpy()
    geoms[codes == C211] = shapely.difference(geoms[codes == C211][0], strip)
    geoms[codes == C212] = shapely.union(geoms[codes == C212][0], strip)
    return frame.set_geometry(geoms, crs=4326)


def _kinds(links: list[Link]) -> dict[tuple[str, str], str]:
    return {(k.old_code, k.new_code): k.kind for k in links if k.kind != "same"}


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_merge_c111_c112, {(C111, MERGED_TOY): "merged", (C112, MERGED_TOY): "merged"}),
        (_split_c212, {(C212, "370911001011"): "split", (C212, "370911001012"): "split"}),
        (_rename_s11, {(S11, S11): "renamed"}),
        (
            _strip_c211_to_c212,
            {(C211, C211): "reshaped", (C211, C212): "reshaped", (C212, C212): "reshaped"},
        ),
    ],
    ids=["merge", "split", "rename", "strip"],
)
def test_each_kind_of_change(make, expected: dict) -> None:  # type: ignore[no-untyped-def]
    old, new = units_frame(), make()
    links = lineage(old, new)
    assert _kinds(links) == expected
    assert {k.old_code for k in links} == set(old["code"])  # every old code leads somewhere
    assert {k.new_code for k in links} == set(new["code"])  # every new code comes from somewhere


def test_a_re_coded_district_links_every_unit_below_it() -> None:
    links = lineage(units_frame(), _recode_d2())
    recoded = {(k.old_code, k.new_code) for k in links if k.kind == "re-coded"}
    below_d2 = [u.code for u in UNITS if u.code.startswith("370911")]
    assert recoded == {(code, "370912" + code[6:]) for code in below_d2}
    assert all((k.old_share, k.new_share) == (1.0, 1.0) for k in links)


def test_shares_each_way_of_a_merge_and_a_split() -> None:
    merge = {k.old_code: k for k in lineage(units_frame(), _merge_c111_c112()) if k.kind == "merged"}
    assert (merge[C111].old_share, merge[C112].old_share) == (1.0, 1.0)
    assert merge[C111].new_share + merge[C112].new_share == pytest.approx(1.0)
    split = [k for k in lineage(units_frame(), _split_c212()) if k.kind == "split"]
    assert sum(k.old_share for k in split) == pytest.approx(1.0)
    assert [k.new_share for k in split] == [1.0, 1.0]


def test_declared_predecessors_link_what_the_geometry_does_not() -> None:
    """C213 is re-coded and declares two predecessors: itself and C121, far away."""
    new = units_frame()
    new["predecessors"] = [None] * len(new)
    new.loc[new["code"] == C213, ["code", "predecessors"]] = ["370911001099", f"{C213}; {C121}; {S11}"]
    links = {(k.old_code, k.new_code): k for k in lineage(units_frame(), new)}
    own = links[(C213, "370911001099")]
    assert (own.how, own.kind, own.old_share) == ("declared", "re-coded", 1.0)
    far = links[(C121, "370911001099")]
    assert (far.how, far.old_share, far.new_share) == ("declared", 0.0, 0.0)
    assert (S11, "370911001099") not in links  # a subdistrict is never a community's predecessor


@pytest.mark.parametrize(
    ("value", "codes"),
    [("a;b", ["a", "b"]), ("a, b", ["a", "b"]), ('["a", "b"]', ["a", "b"]), (["a"], ["a"]), ("", [])],
)
def test_declared_predecessor_forms(value: object, codes: list[str]) -> None:
    assert declared_predecessors(value) == codes


def test_the_issue_release_links_every_old_and_new_code(release_files) -> None:  # type: ignore[no-untyped-def]
    old = gpd.read_file(release_files.exported)
    new = release_files.facts.frame
    links = lineage(old, new)
    assert {k.old_code for k in links} == set(old["code"])
    assert {k.new_code for k in links} == set(new["code"])
    kinds = _kinds(links)
    assert kinds[(MERGED[0], MERGED_INTO)] == kinds[(MERGED[1], MERGED_INTO)] == "merged"
    assert {kinds[(SPLIT_OLD, code)] for code in SPLIT_NEW} == {"split"}
    assert kinds[(RENAMED, RENAMED)] == "renamed"
    assert kinds[(STRIP_FROM, STRIP_TO)] == kinds[(STRIP_FROM, STRIP_FROM)] == "reshaped"
    assert Counter(kinds.values())["re-coded"] == len(release_files.facts.recoded) == 595
    assert next(k for k in links if k.old_code == RENAMED).new_name == NEW_NAME
    assert D2 not in {k.old_code for k in links if k.kind != "same"}  # 岱岳区 itself is untouched
