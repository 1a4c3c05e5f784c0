"""``siji maps`` takes the options of :mod:`maps.options`: the same defaults, and errors
that name the flag a user typed."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from maps.options import DensityOptions, HotspotOptions, MapOptions, PocketParkOptions
from siji import maps_cli
from siji.cli import app


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (maps_cli.density, DensityOptions),
        (maps_cli.hotspots, HotspotOptions),
        (maps_cli.pocket_parks, PocketParkOptions),
    ],
)
def test_every_flag_defaults_to_the_query_parameters_default(
    command: Callable[..., Any], options: type[MapOptions]
) -> None:
    parameters = inspect.signature(command).parameters
    for name, field in options.model_fields.items():
        assert parameters[name].default == field.default, name


@pytest.mark.usefixtures("cli_database")
def test_a_value_the_model_refuses_names_the_flag_typed() -> None:
    result = CliRunner().invoke(app, ["maps", "density", "d.csv", "--category", "x" * 401])
    assert result.exit_code != 0
    assert "--category:" in result.output
    assert "400 characters" in result.output
