"""The closed loop (闭环) of a case: states, actions and who may take them.

::

    reported 上报 -verify-> verified 核实 -file-> filed 立案 -dispatch-> dispatched 派遣
      -start-> in_progress 处置 -handle-> handled 反馈 -check-> checked 核查 -close-> closed 结案

plus ``returned`` 回退 (wrong assignment: back to the dispatcher with a reason, then
re-dispatched, possibly to another unit), ``rework`` 返工 (the check failed), ``deferred``
挂账 (parked by a supervisor), ``reopened`` and ``invalid`` 作废.  Every step is an
action; an action not allowed from the current state is refused with
:class:`IllegalTransitionError` (HTTP 409), naming the actions that are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.errors import SijiError

STATES: dict[str, str] = {
    "reported": "上报",
    "verified": "核实",
    "filed": "立案",
    "dispatched": "派遣",
    "in_progress": "处置",
    "handled": "反馈",
    "checked": "核查",
    "closed": "结案",
    "returned": "回退",
    "rework": "返工",
    "deferred": "挂账",
    "reopened": "重新打开",
    "invalid": "作废",
}
OPEN_STATES = frozenset(STATES) - {"closed", "invalid"}
ROLES: dict[str, str] = {
    "dispatcher": "派遣员",
    "handler": "处置人员",
    "supervisor": "监督员",
    "planner": "规划人员（只读）",
}


@dataclass(frozen=True, slots=True)
class Action:
    """One step of the loop."""

    name: str
    label_zh: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    needs_note: bool = False


def _action(name: str, zh: str, sources: str, target: str, roles: str, needs_note: bool = False) -> Action:
    return Action(name, zh, frozenset(sources.split()), target, frozenset(roles.split()), needs_note)


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        _action("verify", "核实", "reported", "verified", "dispatcher supervisor"),
        _action("file", "立案", "verified", "filed", "dispatcher supervisor"),
        _action("dispatch", "派遣", "filed returned reopened", "dispatched", "dispatcher supervisor"),
        _action("start", "开始处置", "dispatched rework", "in_progress", "handler"),
        _action("return", "回退", "dispatched in_progress", "returned", "handler", needs_note=True),
        _action("handle", "反馈", "in_progress", "handled", "handler"),
        _action("check", "核查通过", "handled", "checked", "dispatcher supervisor"),
        _action(
            "fail_check", "核查不通过，返工", "handled", "rework", "dispatcher supervisor", needs_note=True
        ),
        _action("close", "结案", "checked", "closed", "dispatcher supervisor"),
        _action(
            "defer", "挂账", "filed dispatched in_progress rework", "deferred", "supervisor", needs_note=True
        ),
        _action("resume", "恢复", "deferred", "dispatched", "supervisor"),
        _action("reopen", "重新打开", "closed", "reopened", "dispatcher supervisor", needs_note=True),
        _action(
            "invalidate",
            "作废",
            "reported verified filed",
            "invalid",
            "dispatcher supervisor",
            needs_note=True,
        ),
    )
}


class IllegalTransitionError(SijiError):
    """An action that the case's current state does not allow (HTTP 409)."""

    code = "illegal_transition"


class IdempotencyConflictError(IllegalTransitionError):
    """An ``Idempotency-Key`` already used for another request (HTTP 409)."""

    code = "idempotency_key_reused"


class ForbiddenError(SijiError):
    """The caller may not do this (HTTP 403); the message reveals nothing of the case."""

    code = "forbidden"


def allowed_actions(state: str, role: str | None = None) -> list[str]:
    """Actions possible from ``state`` (for ``role``, when given), in loop order.

    Examples
    --------
    >>> allowed_actions("handled")
    ['check', 'fail_check']
    >>> allowed_actions("dispatched", "handler")
    ['start', 'return']
    """
    return [a.name for a in ACTIONS.values() if state in a.sources and (role is None or role in a.roles)]


def transition(state: str, action_name: str, role: str, note: str = "") -> Action:
    """Check that ``role`` may take ``action_name`` from ``state``; return the action.

    Raises
    ------
    IllegalTransitionError
        Unknown action, or not allowed from ``state``; names the allowed ones.
    ForbiddenError
        The role may not take this action.
    """
    action = ACTIONS.get(action_name)
    if action is None or state not in action.sources:
        allowed = allowed_actions(state)
        what = f"unknown action {action_name!r}" if action is None else f"action {action_name!r}"
        raise IllegalTransitionError(
            f"{what} is not allowed from state {state!r} ({STATES.get(state, '?')}); allowed: "
            + (", ".join(allowed) or "none (the case is final)"),
            state=state,
            action=action_name,
            allowed=allowed,
        )
    if role not in action.roles:
        raise ForbiddenError(
            f"role {role!r} may not {action_name}; roles that may: {', '.join(sorted(action.roles))}",
            action=action_name,
            role=role,
        )
    if action.needs_note and not note.strip():
        from geo.errors import InvalidInputError

        raise InvalidInputError(
            f"action {action_name!r} needs a note giving the reason", field="note", action=action_name
        )
    return action
