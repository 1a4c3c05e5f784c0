"""The closed loop (闭环) of a case, as data: states, and each action's from-states,
roles, relation to the case, pending requests and effects.

::

    reported 上报 -verify-> verified 核实 -file-> filed 立案 -dispatch-> dispatched 派遣
      -start-> in_progress 处置 -handle-> handled 反馈 -check-> checked 核查 -close-> closed 结案

plus ``returned`` 回退 (wrong assignment: back to the dispatcher with a reason, then
re-dispatched, possibly to another unit in the dispatcher's scope), ``rework`` 返工
(the check failed), ``deferred`` 挂账 (parked by a supervisor: the clock stops),
``reopened``, ``invalid`` 作废 and ``merged`` 已合并 (a duplicate merged into its
original).  Requests that a unit above (or the receiving desk) decides keep the state:
an extension of the due time (延期: ``request_extension``, ``approve_extension``,
``refuse_extension``) and a transfer to a desk outside the caller's scope (转办:
``request_transfer``, ``accept_transfer``, ``refuse_transfer``).  The service's
escalation (督办, ``escalate``) is an action of the table too.

The desk's housekeeping: ``urge`` 催办 (a supervisor above the desk, with a note),
``recategorise`` 改类 and ``merge`` 合并 before dispatch, ``recall`` 撤回 (a dispatched
case back to filed before work starts), and the reporter's ``verdict`` 回访评价 on a
closed case, which reopens it when the reporter is unsatisfied (a :class:`Branch`).

Each :class:`Action` declares

``sources`` / ``target``
    the states it may be taken from, and the state it leads to (``None``: unchanged);
``roles`` / ``relation``
    the token roles that may take it, and how the token's unit must stand to the case
    (:data:`RELATIONS`: the owner's chain, the owning desk itself, a unit above it, the
    desk a transfer is asked of);
``opens`` / ``decides``
    the pending request it opens (refused while one of that kind is pending) or
    decides (refused unless one is pending); while a transfer is pending, only its
    decisions are taken (:data:`BLOCKING`);
``fields`` / ``needs_note``
    the request fields it takes, and whether a reason is required;
``effects``
    what it changes, by name, applied in order by :mod:`routing.steps`
    (:data:`routing.effects.EFFECTS`): owner, clock and due time, counters, pending
    requests.  Every effect reports its changes into the step's event;
``branches``
    another target (and more effects) when a request field has a given value.

An action not allowed from the current state is refused with
:class:`IllegalTransitionError` (HTTP 409), naming the actions the caller may take.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from routing.errors import (
    ForbiddenError,
    IdempotencyConflictError,
    IllegalTransitionError,
    UnknownActionError,
)

__all__ = [
    "ACTIONS",
    "BLOCKING",
    "CHANNELS",
    "CLOCK_STATES",
    "OPEN_STATES",
    "RELATIONS",
    "REPORTER_ROLE",
    "ROLES",
    "SATISFACTION",
    "STATES",
    "Action",
    "Branch",
    "ForbiddenError",
    "IdempotencyConflictError",
    "IllegalTransitionError",
    "allowed_actions",
    "get_action",
    "transition",
]

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
    "merged": "已合并",
}
OPEN_STATES = frozenset(STATES) - {"closed", "invalid", "merged"}
CHANNELS: dict[str, str] = {
    "app": "手机应用",
    "hotline": "12345热线",
    "station": "社区服务驿站",
    "patrol": "巡查",
}
"""Where a report comes from (the actor of its intake event)."""
CLOCK_STATES = frozenset({"dispatched", "in_progress", "rework", "returned", "filed"})
"""States in which the handling clock runs: a case in one of them past its due time is
overdue and is escalated.  A filed case has a due time only when it was dispatched
and recalled: its clock, started at the first dispatch, keeps running."""
ROLES: dict[str, str] = {
    "dispatcher": "派遣员",
    "handler": "处置人员",
    "supervisor": "监督员",
    "planner": "规划人员（只读）",
}
SYSTEM_ROLE = "system"
"""The role of the service's own steps (escalation); no token has it."""
REPORTER_ROLE = "reporter"
"""The role of a reporter's token (``rp_...``, from intake): not a staff role."""
SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "unsatisfied": "不满意",
}
"""The reporter's verdict (回访) on a closed case."""
RELATIONS: dict[str, str] = {
    "owner": "a unit in the owner's chain (the owning desk or a unit above it)",
    "desk": "the owning desk itself",
    "above": "a unit above the owning desk",
    "receiver": "the desk a transfer is asked of or a unit above it (their common superior included)",
    "reporter": "the case's reporter (or the reporter of a duplicate merged into it), with their token",
    "system": "the service itself",
}
"""How a caller's unit must stand to a case for an action (:attr:`Action.relation`)."""
BLOCKING = frozenset({"transfer"})
"""Pending requests during which a case takes no step but their decision."""
PENDING = ("extension", "transfer")


@dataclass(frozen=True, slots=True)
class Branch:
    """Another outcome of an action when the request field ``field`` is ``value``:
    the state ``target`` instead of the action's, and ``effects`` after the action's."""

    field: str
    value: str
    target: str
    effects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Action:
    """One step of the loop: where it may start, who may take it and what it does."""

    name: str
    label_zh: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    relation: str = "owner"
    needs_note: bool = False
    fields: frozenset[str] = frozenset()
    opens: str | None = None
    decides: str | None = None
    effects: tuple[str, ...] = ()
    branches: tuple[Branch, ...] = ()

    def branch(self, fields: Mapping[str, Any]) -> Branch | None:
        """The branch the request ``fields`` take, if any."""
        return next((b for b in self.branches if fields.get(b.field) == b.value), None)

    def leads_to(self, state: str, fields: Mapping[str, Any] | None = None) -> str:
        """The state after the action from ``state`` with the request ``fields``.

        Examples
        --------
        >>> ACTIONS["verdict"].leads_to("closed", {"satisfaction": "satisfied"})
        'closed'
        >>> ACTIONS["verdict"].leads_to("closed", {"satisfaction": "unsatisfied"})
        'reopened'
        """
        branch = self.branch(fields or {})
        if branch is not None:
            return branch.target
        return self.target or state

    def effects_for(self, fields: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The effects applied with the request ``fields``: the action's, then its branch's."""
        branch = self.branch(fields or {})
        return self.effects + (branch.effects if branch is not None else ())


def _action(
    name: str,
    zh: str,
    sources: str | Iterable[str],
    target: str | None,
    roles: str,
    *,
    relation: str = "owner",
    note: bool = False,
    fields: str = "",
    opens: str | None = None,
    decides: str | None = None,
    effects: str = "",
    branches: tuple[Branch, ...] = (),
) -> Action:
    return Action(
        name,
        zh,
        frozenset(sources.split() if isinstance(sources, str) else sources),
        target,
        frozenset(roles.split()),
        relation,
        note,
        frozenset(fields.split()),
        opens,
        decides,
        tuple(effects.split()),
        branches,
    )


_BEFORE_WORK = "reported verified filed dispatched returned reopened"
_BEFORE_DISPATCH = "reported verified filed"
_WORKING = "dispatched in_progress rework returned"
_URGEABLE = OPEN_STATES - {"deferred"}
_UNSATISFIED = Branch("satisfaction", "unsatisfied", "reopened", ("count_reopening",))

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        _action("verify", "核实", "reported", "verified", "dispatcher supervisor"),
        _action("file", "立案", "verified", "filed", "dispatcher supervisor"),
        _action(
            "dispatch", "派遣", "filed returned reopened", "dispatched", "dispatcher supervisor",
            fields="reroute_to", effects="reroute run_clock",
        ),
        _action("start", "开始处置", "dispatched rework", "in_progress", "handler"),
        _action("return", "回退", "dispatched in_progress", "returned", "handler", note=True),
        _action(
            "handle", "反馈", "in_progress", "handled", "handler", fields="photos",
            effects="mark_handled attach_photos",
        ),
        _action("check", "核查通过", "handled", "checked", "dispatcher supervisor"),
        _action(
            "fail_check", "核查不通过，返工", "handled", "rework", "dispatcher supervisor", note=True,
            effects="count_rework",
        ),
        _action("close", "结案", "checked", "closed", "dispatcher supervisor", effects="mark_closed"),
        _action(
            "defer", "挂账", "filed dispatched in_progress rework", "deferred", "supervisor", note=True,
            effects="pause_clock",
        ),
        _action("resume", "恢复", "deferred", "dispatched", "supervisor", effects="run_clock"),
        _action(
            "reopen", "重新打开", "closed", "reopened", "dispatcher supervisor", note=True,
            effects="count_reopening",
        ),
        _action(
            "invalidate", "作废", "reported verified filed", "invalid", "dispatcher supervisor", note=True,
        ),
        _action(
            "request_extension", "申请延期", _WORKING, None, "handler dispatcher", relation="desk",
            note=True, fields="extend_to", opens="extension", effects="ask_extension",
        ),
        _action(
            "approve_extension", "批准延期", OPEN_STATES, None, "supervisor", relation="above",
            decides="extension", effects="grant_extension",
        ),
        _action(
            "refuse_extension", "驳回延期", OPEN_STATES, None, "supervisor", relation="above", note=True,
            decides="extension", effects="drop_extension",
        ),
        _action(
            "request_transfer", "申请转办", _BEFORE_WORK, None, "dispatcher supervisor", note=True,
            fields="transfer_to", opens="transfer", effects="ask_transfer",
        ),
        _action(
            "accept_transfer", "接收转办", _BEFORE_WORK, None, "dispatcher supervisor", relation="receiver",
            decides="transfer", effects="take_transfer",
        ),
        _action(
            "refuse_transfer", "拒绝转办", _BEFORE_WORK, None, "dispatcher supervisor", relation="receiver",
            note=True, decides="transfer", effects="drop_transfer",
        ),
        _action(
            "urge", "催办", _URGEABLE, None, "supervisor", relation="above", note=True,
            effects="count_urging",
        ),
        _action(
            "recategorise", "改类", _BEFORE_DISPATCH, None, "dispatcher supervisor", note=True,
            fields="category", effects="recategorise",
        ),
        _action(
            "merge", "合并", _BEFORE_DISPATCH, "merged", "dispatcher supervisor", fields="merge_into",
            effects="merge",
        ),
        _action(
            "recall", "撤回", "dispatched", "filed", "dispatcher supervisor", note=True, effects="recall",
        ),
        _action(
            "verdict", "回访评价", "closed", None, REPORTER_ROLE, relation="reporter", fields="satisfaction",
            effects="record_verdict", branches=(_UNSATISFIED,),
        ),
        _action(
            "escalate", "督办", CLOCK_STATES, None, SYSTEM_ROLE, relation="system", effects="supervise",
        ),
    )
}  # fmt: skip
"""Every action of the loop, in loop order (the order of "allowed" lists)."""


def get_action(name: str) -> Action:
    """The action called ``name``.

    Raises
    ------
    UnknownActionError
        For any other name (HTTP 422), listing the actions there are.
    """
    action = ACTIONS.get(name)
    if action is None or action.roles == {SYSTEM_ROLE}:
        names = [a.name for a in ACTIONS.values() if SYSTEM_ROLE not in a.roles]
        raise UnknownActionError(
            f"unknown action {name!r}; the actions are: {', '.join(names)}",
            field="action",
            value=name,
            allowed=names,
        )
    return action


def pending_rule(action: Action, pending: frozenset[str]) -> str | None:
    """Why the pending requests forbid ``action`` (``None``: they do not)."""
    if action.decides is not None and action.decides not in pending:
        return f"no {action.decides} request is pending"
    blocking = (pending & BLOCKING) - {action.decides}
    if blocking:
        return f"{_a(sorted(blocking)[0])} request is pending: only its decision can be taken"
    if action.opens is not None and action.opens in pending:
        return f"{_a(action.opens)} request is already pending"
    return None


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def allowed_actions(
    state: str,
    role: str | None = None,
    pending: frozenset[str] = frozenset(),
    relations: frozenset[str] | None = None,
) -> list[str]:
    """Actions possible from ``state``, in loop order.

    Parameters
    ----------
    role : str, optional
        Only the actions this role may take (default: any token's role).
    pending : frozenset of str
        The pending requests of the case (``extension``, ``transfer``).
    relations : frozenset of str, optional
        How the caller's unit stands to the case (see :data:`RELATIONS`); default any.

    Examples
    --------
    >>> allowed_actions("handled")
    ['check', 'fail_check', 'urge']
    >>> allowed_actions("dispatched", "handler")
    ['start', 'return', 'request_extension']
    >>> allowed_actions("dispatched", "handler", frozenset({"transfer"}))
    []
    >>> allowed_actions("closed", "reporter")
    ['verdict']
    """
    return [
        a.name
        for a in ACTIONS.values()
        if state in a.sources
        and (role in a.roles if role is not None else bool(a.roles & set(ROLES)))
        and (relations is None or a.relation in relations)
        and pending_rule(a, pending) is None
    ]


def transition(
    state: str,
    action_name: str,
    role: str,
    note: str = "",
    pending: frozenset[str] = frozenset(),
    relations: frozenset[str] | None = None,
) -> Action:
    """Check that ``role`` may take ``action_name`` from ``state``; return the action.

    Raises
    ------
    UnknownActionError
        No such action (422), listing the actions.
    IllegalTransitionError
        Not allowed from ``state`` or with the pending requests (409), naming the
        actions the caller may take.
    ForbiddenError
        The role, or the caller's relation to the case, may not take this action.
    """
    action = get_action(action_name)
    blocked = pending_rule(action, pending)
    if state not in action.sources or blocked is not None:
        allowed = allowed_actions(state, role, pending, relations)
        reason = f"not allowed from state {state!r} ({STATES.get(state, '?')})"
        if state in action.sources:
            reason = f"not allowed now: {blocked}"
        raise IllegalTransitionError(
            f"action {action_name!r} is {reason}; allowed: "
            + (", ".join(allowed) or ("none (the case is final)" if state not in OPEN_STATES else "none")),
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
    if relations is not None and action.relation not in relations:
        raise ForbiddenError(
            f"{action_name} is for {RELATIONS[action.relation]}; your unit is not",
            action=action_name,
            relation=action.relation,
        )
    if action.needs_note and not note.strip():
        from geo.errors import InvalidInputError

        raise InvalidInputError(
            f"action {action_name!r} needs a note giving the reason", field="note", action=action_name
        )
    return action


def actions_table() -> str:
    """The action table as Markdown (the README's "who may do what"): one row per action a token takes.

    Examples
    --------
    >>> actions_table().splitlines()[2]
    '| `verify` 核实 | reported → verified | dispatcher, supervisor | owner |  |  |'
    """
    lines = [
        "| action | from states | roles | relation | reason | fields |",
        "|---|---|---|---|---|---|",
    ]
    order = list(STATES)
    for action in ACTIONS.values():
        if SYSTEM_ROLE in action.roles:
            continue
        missing = sorted(OPEN_STATES - action.sources, key=order.index)
        sources = (
            "any open state" + (f" but {missing[0]}" if missing else "")
            if action.sources <= OPEN_STATES and len(missing) <= 1
            else ", ".join(sorted(action.sources, key=order.index))
        )
        pending = (f" (while {_a(action.decides)} request is pending)" if action.decides else "") + (
            f" (opens {_a(action.opens)} request)" if action.opens else ""
        )
        target = f" → {action.target}" if action.target else ""
        target += "".join(f" (→ {b.target} when {b.field} is {b.value})" for b in action.branches)
        lines.append(
            f"| `{action.name}` {action.label_zh} | {sources}{target}{pending} | "
            f"{', '.join(r for r in (*ROLES, REPORTER_ROLE) if r in action.roles)} | {action.relation} | "
            f"{'required' if action.needs_note else ''} | "
            f"{', '.join(f'`{name}`' for name in sorted(action.fields))} |"
        )
    return "\n".join(lines)
