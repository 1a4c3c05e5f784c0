"""How ``siji boundaries`` shows a release plan and the generations: text and JSON."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.table import Table

from geo.errors import counted
from geo.levels import LEVEL_KEYS
from siji.console import err, out

if TYPE_CHECKING:
    from boundaries.release import ReleasePlan
    from store.generations import GenerationInfo

SHOWN_PER_KIND = 20


def placement(plan: ReleasePlan) -> str:
    """Where the set sits in time, in one line."""
    start = f"valid from {plan.valid_from}"
    if plan.before is None:
        text = f"{start}; the first generation"
    else:
        text = f"{start}; replaces generation {plan.before.id} {plan.before.name!r} from that day"
    if plan.after is not None:
        text += (
            f", until generation {plan.after.id} {plan.after.name!r} takes over on {plan.after.valid_from} "
            "(whose lineage is re-linked to this one)"
        )
    return text


def plan_dict(plan: ReleasePlan, refusals: list[str]) -> dict[str, Any]:
    """The plan as JSON: placement, changes, lineage, release checks, refusals."""
    return {
        "valid_from": plan.valid_from.isoformat(),
        "replaces": None if plan.before is None else {"id": plan.before.id, "name": plan.before.name},
        "followed_by": None if plan.after is None else {"id": plan.after.id, "name": plan.after.name},
        "changes": plan.changes(),
        "lineage": [link.as_dict() for link in plan.links],
        "relinked": [link.as_dict() for link in plan.relinks],
        "release_checks": plan.change_problems,
        "refusals": refusals,
    }


def show_plan(plan: ReleasePlan) -> None:
    """What storing the set would change, on stderr (the report stays on stdout)."""
    err.print(placement(plan), highlight=False)
    if plan.before is None:
        return
    changes = plan.changes()
    counts = ", ".join(f"{n:,} {kind}" for kind, n in plan.change_counts().items())
    err.print(f"changes against generation {plan.before.id} {plan.before.name!r}: {counts}", highlight=False)
    for kind, lines in changes.items():
        for line in lines[:SHOWN_PER_KIND]:
            err.print(f"  {kind:9} {line}", highlight=False)
        if len(lines) > SHOWN_PER_KIND:
            err.print(f"  {kind:9} ... and {len(lines) - SHOWN_PER_KIND:,} more (--json lists all)")
    err.print(f"lineage to record: {_lineage_counts(plan.links)}", highlight=False)
    if plan.after is not None:
        err.print(
            f"lineage to re-link generation {plan.after.id} {plan.after.name!r} with: "
            f"{_lineage_counts(plan.relinks)}",
            highlight=False,
        )
    for problem in plan.change_problems:
        err.print(f"[yellow]release check:[/] {problem}", highlight=False)


def _lineage_counts(links: list[Any]) -> str:
    kinds = Counter(link.kind for link in links)
    return f"{counted(len(links), 'link')} (" + ", ".join(f"{n:,} {k}" for k, n in kinds.most_common()) + ")"


def status_of(generation: GenerationInfo, today: dt.date) -> str:
    """answers today, future, past, withdrawn ..., or an import under way."""
    if generation.state != "published":
        return "importing (or interrupted)"
    if generation.active:
        return "answers today"
    if (
        generation.withdrawn_from is not None
        and generation.withdrawn_from <= today
        and not generation.periods
    ):
        return "withdrawn"
    if any(p.start > today for p in generation.periods):
        return "future"
    return "past" if generation.periods else "never answers"


def show_generations(generations: list[GenerationInfo], counts: dict[int, dict[str, int]]) -> None:
    """The generations as a table."""
    today = dt.date.today()
    table = Table(title=f"{counted(len(generations), 'boundary generation')} (today {today})")
    for column in ("id", "name", "valid", "status", "units by level", "notes"):
        table.add_column(column)
    for g in generations:
        periods = ", ".join(f"{p.start} – {p.end - dt.timedelta(days=1) if p.end else ''}" for p in g.periods)
        if g.withdrawn_from is not None:
            periods += f" (withdrawn from {g.withdrawn_from})"
        level_counts = counts.get(g.id, {})
        units = " / ".join(f"{level_counts.get(level, 0):,}" for level in LEVEL_KEYS)
        table.add_row(str(g.id), g.name, periods or "—", status_of(g, today), units, _notes(g))
    out.print(table)


def _notes(generation: GenerationInfo) -> str:
    notes = generation.notes
    parts = []
    if "accepted_change" in notes:
        parts.append(f"change accepted: {notes['accepted_change'].get('reason', '')}")
    if "accepted_problems" in notes:
        parts.append(f"problems accepted: {notes['accepted_problems'].get('summary', '')}")
    parts += [f"withdrawn from {w.get('from')}: {w.get('reason', '')}" for w in notes.get("withdrawals", [])]
    return "; ".join(parts)


def generation_dict(generation: GenerationInfo, counts: dict[str, int]) -> dict[str, Any]:
    """A generation as JSON."""
    return {
        "id": generation.id,
        "name": generation.name,
        "valid_from": generation.valid_from.isoformat(),
        "valid_to": None if generation.valid_to is None else generation.valid_to.isoformat(),
        "withdrawn_from": None
        if generation.withdrawn_from is None
        else generation.withdrawn_from.isoformat(),
        "periods": [[str(p.start), None if p.end is None else str(p.end)] for p in generation.periods],
        "status": status_of(generation, dt.date.today()),
        "active": generation.active,
        "units": counts,
        "source": generation.source,
        "notes": generation.notes,
    }
