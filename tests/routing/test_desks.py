"""Desk keys from short codes: units and departments resolve to their 12-digit keys."""

from __future__ import annotations

import pytest

from routing.errors import UnknownDeskError
from routing.service import ReportService


@pytest.mark.parametrize(
    ("given", "key", "name"),
    [
        ("370902", "370902000000", "泰山区"),
        ("370902002", "370902002000", "财源街道"),
        ("370902:城管局", "370902000000:城管局", "泰山区城管局"),
        ("370902000000:城管局", "370902000000:城管局", "泰山区城管局"),
        ("370902002:城管局", None, None),  # a subdistrict has no 城管局
        ("city:园林局", "city:园林局", "园林局"),
    ],
)
def test_short_codes_give_the_desk_of_the_full_code(
    service: ReportService, given: str, key: str | None, name: str | None
) -> None:
    desks = service.desks()
    if key is None:
        with pytest.raises(UnknownDeskError, match="is not a subdistrict department"):
            desks.get(given)
        return
    desk = desks.get(given)
    assert (desk.key, desk.name) == (key, name)
    assert desk.chain[-1] == "370900000000"


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("370999", "unit code '370999' (read as 370999000000) is not in the active boundary set"),
        ("370999:城管局", "unit code '370999' (read as 370999000000)"),
        ("district:城管局", "keyed by its district's code"),
    ],
)
def test_unknown_codes_name_the_value_and_what_is_allowed(
    service: ReportService, given: str, fragment: str
) -> None:
    with pytest.raises(UnknownDeskError) as caught:
        service.desks().get(given, field="transfer_to")
    assert fragment in caught.value.message
    assert caught.value.detail["value"] in (given, given.partition(":")[0])
