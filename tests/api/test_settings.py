"""Every setting is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(field: str) -> None:
    section = README.read_text(encoding="utf-8").split("### Settings", 1)[1]
    assert f"`SIJI_{field.upper()}`" in section
