"""The loop as data: the action table is consistent, and the README shows it as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.effects import EFFECTS
from routing.steps import REQUEST_FIELDS
from routing.workflow import (
    ACTIONS,
    PENDING,
    RELATIONS,
    REPORTER_ROLE,
    ROLES,
    STATES,
    SYSTEM_ROLE,
    actions_table,
)

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize("action", list(ACTIONS.values()), ids=list(ACTIONS))
def test_every_action_names_known_states_roles_relations_effects_and_fields(action) -> None:  # type: ignore[no-untyped-def]
    assert action.sources <= set(STATES)
    assert action.target is None or action.target in STATES
    assert action.roles <= {*ROLES, SYSTEM_ROLE, REPORTER_ROLE}
    assert action.relation in RELATIONS
    assert set(action.effects) <= set(EFFECTS)
    assert action.fields <= set(REQUEST_FIELDS)
    for branch in action.branches:
        assert branch.field in action.fields
        assert branch.target in STATES
        assert set(branch.effects) <= set(EFFECTS)
    assert {action.opens, action.decides} <= {None, *PENDING}


def test_every_request_kind_is_opened_and_decided() -> None:
    for kind in PENDING:
        assert [a.name for a in ACTIONS.values() if a.opens == kind]
        assert len([a.name for a in ACTIONS.values() if a.decides == kind]) == 2  # accepted or refused


def test_the_readme_shows_the_action_table_as_it_is() -> None:
    assert actions_table() in README.read_text(encoding="utf-8")
