"""The boundary validator: each check finds its problem, names it, measures it."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from shapely import Polygon, box

from boundaries.validate import repair, validate

# A 2 x 1 block of districts under one city, each district split in two subdistricts.
CITY = box(117.0, 36.0, 117.2, 36.1)
UNITS = [
    ("C", "city", None, CITY),
    ("D1", "district", "C", box(117.0, 36.0, 117.1, 36.1)),
    ("D2", "district", "C", box(117.1, 36.0, 117.2, 36.1)),
    ("S11", "subdistrict", "D1", box(117.0, 36.0, 117.05, 36.1)),
    ("S12", "subdistrict", "D1", box(117.05, 36.0, 117.1, 36.1)),
    ("S21", "subdistrict", "D2", box(117.1, 36.0, 117.15, 36.1)),
    ("S22", "subdistrict", "D2", box(117.15, 36.0, 117.2, 36.1)),
]


def _frame(units: list[tuple[str, str, str | None, shapely.Geometry]] = UNITS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [u[0] for u in units],
            "name": [u[0] for u in units],
            "level": [u[1] for u in units],
            "parent_code": [u[2] for u in units],
        },
        geometry=[u[3] for u in units],
        crs=4326,
    )


def _replace(code: str, geometry: shapely.Geometry) -> list[tuple[str, str, str | None, shapely.Geometry]]:
    return [(c, lv, p, geometry if c == code else g) for c, lv, p, g in UNITS]


def test_a_clean_partition_passes() -> None:
    report = validate(_frame())
    assert report.ok, report.problems
    assert report.counts == {"city": 1, "district": 2, "subdistrict": 4}


def test_gap_is_reported_with_area_and_point_inside_it() -> None:
    report = validate(_frame(_replace("S12", box(117.06, 36.0, 117.1, 36.1))))
    gaps = [p for p in report.problems if p.check == "tiling"]
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.code == "D1"
    assert gap.area_m2 == pytest.approx(0.01 * 0.1 * 90_170 * 111_000, rel=0.02)  # ~10 km²
    assert box(117.05, 36.0, 117.06, 36.1).covers(shapely.Point(gap.lon, gap.lat))
    assert "gap of" in gap.message


def test_overlap_is_reported_once_per_pair() -> None:
    report = validate(_frame(_replace("S11", box(117.0, 36.0, 117.06, 36.1))))
    overlaps = [p for p in report.problems if "overlap" in p.message]
    assert len(overlaps) == 1
    assert {"S11", "S12"} <= set(overlaps[0].message.split())
    assert overlaps[0].area_m2 == pytest.approx(10_000_000, rel=0.02)


def test_child_outside_parent_is_measured() -> None:
    report = validate(_frame(_replace("S22", box(117.15, 36.0, 117.21, 36.1))))
    nesting = [p for p in report.problems if p.check == "nesting"]
    assert [p.code for p in nesting] == ["S22"]
    assert nesting[0].area_m2 == pytest.approx(10_000_000, rel=0.02)
    assert "outside its parent D2" in nesting[0].message


def test_tolerance_ignores_slivers() -> None:
    sliver = box(117.05 + 1e-7, 36.0, 117.1, 36.1)  # ~100 m² gap
    assert not validate(_frame(_replace("S12", sliver)), tolerance_m2=1000).problems
    assert validate(_frame(_replace("S12", sliver)), tolerance_m2=10).problems


BOWTIE = Polygon([(117.0, 36.0), (117.05, 36.1), (117.05, 36.0), (117.0, 36.1)])


def test_invalid_geometry_has_reason_and_location() -> None:
    report = validate(_frame(_replace("S11", BOWTIE)))
    geometry = [p for p in report.problems if p.check == "geometry"]
    assert len(geometry) == 1
    assert "Self-intersection" in geometry[0].message
    assert geometry[0].lon == pytest.approx(117.025)
    assert geometry[0].lat == pytest.approx(36.05)


def test_repair_only_when_asked() -> None:
    frame = _frame(_replace("S11", BOWTIE))
    fixed, codes = repair(frame)
    assert codes == ["S11"]
    assert shapely.is_valid(fixed.geometry.values).all()
    assert not shapely.is_valid(frame.geometry.values).all()  # the input is untouched


@pytest.mark.parametrize(
    ("units", "check", "fragment"),
    [
        (
            [*UNITS, ("S11", "subdistrict", "D1", box(117.0, 36.0, 117.01, 36.01))],
            "codes",
            "S11 is used by 2",
        ),
        (
            [*UNITS[:-1], ("S22", "subdistrict", "D9", UNITS[-1][3])],
            "parents",
            "parent code D9 does not resolve",
        ),
        ([*UNITS[:-1], ("S22", "subdistrict", "C", UNITS[-1][3])], "parents", "must be exactly one level up"),
        ([*UNITS[:-1], ("S22", "subdistrict", None, UNITS[-1][3])], "parents", "has no parent code"),
        (
            [UNITS[0], *[(c, "community", "C", g) for c, _, _, g in UNITS[3:]]],
            "levels",
            "district is missing",
        ),
    ],
)
def test_table_checks(units: list, check: str, fragment: str) -> None:
    report = validate(_frame(units))
    messages = [p.message for p in report.problems if p.check == check]
    assert any(fragment in m for m in messages), report.problems


def test_report_serializes() -> None:
    report = validate(_frame(_replace("S12", box(117.06, 36.0, 117.1, 36.1))))
    data = report.to_dict()
    assert data["ok"] is False
    assert data["problems_by_check"] == {"tiling": 1}
    assert data["problems"][0]["area_m2"] > 0


def test_a_duplicate_code_names_both_features() -> None:
    units = [*UNITS[:6], ("S21", "subdistrict", "D2", box(117.15, 36.0, 117.2, 36.1))]
    report = validate(_frame(units))
    problem = next(p for p in report.problems if p.check == "codes")
    assert problem.message == (
        "code S21 is used by 2 units: feature #6 'S21' at (117.125000, 36.050000), "
        "feature #7 'S21' at (117.175000, 36.050000); every unit needs its own code"
    )
    assert problem in report.blocking


def test_several_top_units_are_structural() -> None:
    report = validate(_frame([u for u in UNITS if u[0] != "C"]))
    [problem] = [p for p in report.problems if p.check == "top"]
    assert problem.message.startswith("2 units at the top level, district (D1 D1, D2 D2)")
    assert report.unacceptable() == report.blocking == [problem]


@pytest.mark.parametrize(
    ("units", "check"),
    [
        ([*UNITS[:6], ("S22", "subdistrict", "D9", UNITS[6][3])], "parents"),
        ([*UNITS[:6], ("S22", "subdistrict", None, UNITS[6][3])], "parents"),
        ([*UNITS[:3], ("X1", "community", "D1", UNITS[1][3])], "levels"),
    ],
    ids=["unknown-parent", "no-parent", "skipped-level"],
)
def test_structural_problems_are_never_acceptable(units, check: str) -> None:
    report = validate(_frame(units))
    assert check in report.by_check()
    assert any(p.check == check for p in report.unacceptable(max_m2=float("inf")))


def test_only_small_geometric_problems_are_acceptable() -> None:
    sliver = box(117.0, 36.0, 117.05 - 2e-5, 36.1)  # a 1.8 m wide gap, about 20,000 m²
    small = validate(_frame(_replace("S11", box(117.0, 36.0, 117.05 - 1e-6, 36.1))))
    large = validate(_frame(_replace("S11", sliver)))
    assert [p.check for p in small.problems] == ["tiling"]
    assert small.unacceptable() == []
    assert [p.check for p in large.problems] == ["tiling"]
    assert large.unacceptable() == large.problems
    assert large.summary().startswith("tiling: 1 problem (19,")
