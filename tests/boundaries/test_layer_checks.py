"""The checks any polygon-layer importer calls (boundary sets, the green-space register)."""

from __future__ import annotations

import pyproj
import pytest
from shapely import box

from boundaries.layer_checks import check_coordinate_units, require_fields, which
from geo.crs import parse_crs
from geo.errors import BoundaryDataError

PARK = box(117.10, 36.18, 117.11, 36.19)  # a park near 泰山区, in degrees
PARK_4548 = box(509_000.0, 4_006_000.0, 509_900.0, 4_007_100.0)  # about the same, in EPSG:4548 metres


@pytest.mark.parametrize(
    ("geometry", "crs", "fragment"),
    [
        (PARK, parse_crs("EPSG:4548"), "look like degrees"),
        (PARK, pyproj.CRS.from_epsg(4548), "look like degrees"),  # a file's own CRS (pyproj)
        (PARK_4548, parse_crs("wgs84"), "cannot be degrees"),
        (PARK_4548, parse_crs("gcj02"), "cannot be degrees"),
    ],
)
def test_coordinates_whose_size_contradicts_their_crs(geometry, crs, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BoundaryDataError, match=fragment):
        check_coordinate_units([geometry], crs, "parks.gpkg")


@pytest.mark.parametrize(
    ("geometry", "crs"), [(PARK, parse_crs("wgs84")), (PARK_4548, parse_crs("EPSG:4548"))]
)
def test_coordinates_that_fit_their_crs_pass(geometry, crs) -> None:  # type: ignore[no-untyped-def]
    check_coordinate_units([geometry], crs, "parks.gpkg")


def test_require_fields_for_another_importer() -> None:
    found = require_fields(["mc", "mj", "lx"], {"name": "mc", "area": "mj"}, "parks.gpkg")
    assert found == {"name": "mc", "area": "mj"}
    with pytest.raises(BoundaryDataError) as raised:
        require_fields(["mc", "mj"], {"kind": "type"}, "parks.gpkg")
    assert raised.value.message == "'parks.gpkg' has no field 'type' (the kind); the file has: mc, mj"
    assert raised.value.detail["missing"] == ["type"]


def test_which_counts_right() -> None:
    assert which("park", ["a"], "has", "have") == "park 'a' has"
    assert which("park", [str(i) for i in range(12)], "has", "have").endswith("'9' and 2 more have")
