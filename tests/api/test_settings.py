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


def test_the_delivery_lease_outlasts_a_round() -> None:
    with pytest.raises(
        ValueError, match="SIJI_DELIVERY_LEASE_S=10 must be at least twice SIJI_WEBHOOK_TIMEOUT_S=10"
    ):
        Settings(delivery_lease_s=10, webhook_timeout_s=10)
