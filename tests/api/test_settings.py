"""Every setting of every pydantic-settings class is in the README's table, with its
default, what it does and when to change it; and the settings check their values."""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from api.settings import Settings

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
PACKAGES = (
    "geo",
    "boundaries",
    "greenspace",
    "batch",
    "store",
    "routing",
    "maps",
    "api",
    "siji",
    "benchmarks",
)


@functools.cache
def _settings_classes() -> list[type[BaseSettings]]:
    """Every class of the packages that derives from ``BaseSettings``, found in the source
    (so a new one is checked without being listed here)."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                bases = [getattr(b, "id", getattr(b, "attr", "")) for b in getattr(node, "bases", [])]
                if isinstance(node, ast.ClassDef) and "BaseSettings" in bases:
                    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                    found.append(getattr(importlib.import_module(module), node.name))
    return found


@functools.cache
def _variables() -> dict[str, tuple[type[BaseSettings], str]]:
    """Environment variable -> (settings class, field)."""
    names = {}
    for cls in _settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field in cls.model_fields:
            names[f"{prefix}{field}".upper()] = (cls, field)
    return names


def _table() -> dict[str, list[str]]:
    """The README's settings table: variable -> its cells (default, what, when)."""
    section = README.read_text(encoding="utf-8").split("### Settings\n", 1)[1].split("\n#", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_settings_classes_are_found() -> None:
    assert Settings in _settings_classes()


@pytest.mark.parametrize("variable", sorted(_variables()))
def test_every_setting_has_a_row_with_its_default_meaning_and_when_to_change_it(variable: str) -> None:
    row = _table().get(variable)
    assert row is not None, f"{variable} is not in the README's settings table"
    assert len(row) == 3, f"{variable}: expected default | what | change it when, got {row}"
    default, what, when = row
    assert default, variable
    assert what, variable
    assert when, variable
    cls, field = _variables()[variable]
    info = cls.model_fields[field]
    if info.default_factory is None and info.default is not None:
        assert _shown(info.default) in default, f"{variable}: the default is {info.default!r}"


def test_the_table_names_no_setting_that_does_not_exist() -> None:
    assert sorted(set(_table()) - set(_variables())) == []


def _shown(value: Any) -> str:
    """A default as the table writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:,g}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def test_the_delivery_lease_outlasts_a_round() -> None:
    with pytest.raises(
        ValueError, match="SIJI_DELIVERY_LEASE_S=10 must be at least twice SIJI_WEBHOOK_TIMEOUT_S=10"
    ):
        Settings(delivery_lease_s=10, webhook_timeout_s=10)
