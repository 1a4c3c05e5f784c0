"""What a reader sees of a case: staff in scope see everything, the reporter a reply-only history.

:func:`report_view` is the case as staff in scope and the reporter read it (the
reporter may read their own description and contact);  :func:`event_views` its
history, where the reporter sees no staff names, no internal notes and no step data,
only public replies (a note is internal unless its step was marked ``public``).
Anonymous readers never get these views: they read :mod:`routing.public`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from geo.levels import LEVEL_KEYS
from routing.access import Principal
from routing.catalog import Catalog
from routing.effects import aware, iso, supervisor
from routing.intake import CHANNELS
from routing.workflow import ACTIONS, CLOCK_STATES, ROLES, STATES
from store.models import Report, ReportEvent


def is_overdue(report: Report, now: dt.datetime) -> bool:
    """Past its due time while the clock runs (escalation does not change this)."""
    return bool(report.due_at is not None and report.state in CLOCK_STATES and aware(report.due_at) < now)


def report_view(report: Report, catalog: Catalog, now: dt.datetime) -> dict[str, Any]:
    """The case as a JSON-ready dict (without its history)."""
    category = catalog.get(report.category_code)
    transfer = (
        None
        if report.transfer_to is None
        else {"key": report.transfer_to, "level": report.transfer_to_level, "name": report.transfer_to_name}
    )
    return {
        "id": report.id,
        "created_at": iso(report.created_at),
        "category": {"code": category.code, "name_zh": category.name_zh, "name_en": category.name_en},
        "description": report.description,
        "photo_urls": list(report.photo_urls or []),
        "address": report.address,
        "channel": report.channel,
        "channel_zh": CHANNELS.get(report.channel, report.channel),
        "location": {"x": report.x, "y": report.y, "crs": report.crs, "lon": report.lon, "lat": report.lat},
        "jurisdiction": {
            "generation_id": report.generation_id,
            "status": report.lookup_status,
            "candidates": list(report.lookup_candidates or []),
            "distance_m": report.distance_m,
            **{f"{level}_code": getattr(report, f"{level}_code") for level in LEVEL_KEYS},
        },
        "owner": {"key": report.owner_key, "level": report.owner_level, "name": report.owner_name},
        "state": report.state,
        "state_zh": STATES[report.state],
        "dispatched_at": iso(report.dispatched_at),
        "due_at": iso(report.due_at),
        "original_due_at": iso(report.original_due_at),
        "due_estimated": report.due_estimated,
        "paused_at": iso(report.paused_at),
        "handled_at": iso(report.handled_at),
        "closed_at": iso(report.closed_at),
        "first_closed_at": iso(report.first_closed_at),
        "overdue": is_overdue(report, now),
        "rework_count": report.rework_count,
        "reopen_count": report.reopen_count,
        "escalation_level": report.escalation_level,
        "supervised": report.supervised,
        "supervisor": supervisor(report),
        "supervision_due_at": iso(report.supervision_due_at),
        "pending": {"extension_to": iso(report.extension_to), "transfer_to": transfer},
        "duplicate_of": report.duplicate_of,
        "version": report.version,
    }


def event_views(events: Iterable[ReportEvent], reader: Principal) -> list[dict[str, Any]]:
    """The history as the reader may see it (see the module docstring)."""
    staff = reader.kind != "reporter"
    return [_event_view(e) if staff else _public_event_view(e) for e in events]


def _event_view(event: ReportEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "action": event.action,
        "action_zh": ACTIONS[event.action].label_zh if event.action in ACTIONS else event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "actor_unit": event.actor_unit,
        "note": event.note,
        "public": bool(event.public),
        "data": dict(event.data or {}),
    }


def _public_event_view(event: ReportEvent) -> dict[str, Any]:
    view = _event_view(event)
    if event.action != "report" and not event.actor.startswith("system:"):  # intake names the channel
        view["actor"] = ROLES.get(event.actor_role, event.actor_role)  # a role, never a staff name
    if not event.public:
        view["note"] = ""
    view["data"] = {}
    return view
