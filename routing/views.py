"""What a reader sees of a case, as typed view models: staff in scope see everything, the
reporter a reply-only history.

The models are :class:`~typing.TypedDict`\\ s: the service hands out plain JSON-ready
dicts, statically typed, and the HTTP edge uses the same classes as its response
schemas (``api/schemas/reports.py`` declares nothing again).  :func:`report_view` is
the case as staff in scope and the reporter read it (the reporter may read their own
description and contact); :func:`event_views` its history, where the reporter sees no
staff names, no internal notes and no step data, only public replies (a note is
internal unless its step was marked ``public``).  Anonymous readers never get these
views: they read :mod:`routing.public`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import (
    Annotated,
    Any,
    NotRequired,  # pydantic needs typing_extensions' on 3.11
)

from pydantic import Field
from typing_extensions import TypedDict

from geo.levels import LEVEL_KEYS
from routing.access import Principal
from routing.catalog import Catalog
from routing.effects import aware, iso, supervisor
from routing.workflow import ACTIONS, CHANNELS, CLOCK_STATES, ROLES, SATISFACTION, STATES
from store.models import Report, ReportEvent


class CategoryRef(TypedDict):
    """A category of the catalog, by code and names."""

    code: str
    name_zh: str
    name_en: str


class DeskRef(TypedDict):
    """A desk (:mod:`routing.desks`): a unit, or a city or district department."""

    key: Annotated[str, Field(description="A unit code, city:<department> or <unit code>:<department>.")]
    level: str
    name: str


class Location(TypedDict):
    """The report's point as given (x, y in crs) and in WGS84."""

    x: float
    y: float
    crs: str
    lon: float
    lat: float


class Jurisdiction(TypedDict):
    """The lookup at intake: the generation, its status and the unit codes at each level."""

    generation_id: int
    status: str
    candidates: list[str]
    distance_m: float | None
    city_code: str | None
    district_code: str | None
    subdistrict_code: str | None
    community_code: str | None


class PhotoPosition(TypedDict):
    """Where a photo was taken, as its EXIF said (WGS84)."""

    lon: float
    lat: float


class PhotoRef(TypedDict):
    """A stored photo of the case: ``report`` (the reporter's) or ``handled`` (the after-photo)."""

    id: int
    kind: str
    url: Annotated[str, Field(description="GET it with the same token (staff in scope, the reporter).")]
    thumbnail_url: str
    media_type: str
    width: int
    height: int
    taken_at: Annotated[
        PhotoPosition | None,
        Field(description="The position the photo's own EXIF recorded (staff only; null for reporters)."),
    ]


class Verdict(TypedDict):
    """The reporter's latest verdict (回访)."""

    satisfaction: Annotated[
        str, Field(description="satisfied 满意, basically_satisfied 基本满意, unsatisfied 不满意")
    ]
    satisfaction_zh: str
    at: str | None


class Pending(TypedDict):
    """Requests waiting for a decision."""

    extension_to: Annotated[str | None, Field(description="The due time an extension asks for.")]
    transfer_to: Annotated[DeskRef | None, Field(description="The desk a transfer is asked of.")]


class EventView(TypedDict):
    """One step of the history (the reporter's view: a role for the actor, public notes only)."""

    at: str | None
    action: str
    action_zh: str
    from_state: str | None
    to_state: str
    actor: str
    actor_role: str
    actor_unit: str | None
    note: str
    public: Annotated[bool, Field(description="The note is a reply the reporter reads.")]
    data: Annotated[dict[str, Any], Field(description="What the step changed (owner, due time, ...).")]


class ReportView(TypedDict):
    """A report as its reader may see it."""

    id: int
    created_at: str | None
    category: CategoryRef
    description: str
    photo_urls: list[str]
    address: str
    channel: str
    channel_zh: str
    location: Location
    jurisdiction: Jurisdiction
    owner: DeskRef
    state: str
    state_zh: str
    dispatched_at: str | None
    due_at: Annotated[
        str | None, Field(description="The due time that counts (按期 is measured against it).")
    ]
    original_due_at: Annotated[str | None, Field(description="The due time the category gave (原定期限).")]
    due_estimated: Annotated[
        bool,
        Field(description="The due time reaches past the calendar's last year: weekends only were counted."),
    ]
    paused_at: Annotated[str | None, Field(description="When a deferred case's clock stopped.")]
    handled_at: str | None
    closed_at: str | None
    first_closed_at: Annotated[
        str | None, Field(description="The first closure, which stays counted after a reopening.")
    ]
    overdue: bool
    rework_count: int
    reopen_count: int
    escalation_level: int
    supervised: bool
    supervisor: str | None
    supervision_due_at: Annotated[str | None, Field(description="The deadline of the supervision (督办).")]
    pending: Pending
    duplicate_of: int | None
    merged_into: Annotated[
        int | None, Field(description="The original this duplicate was merged into (state merged).")
    ]
    urge_count: Annotated[int, Field(description="Times a unit above urged the case (催办).")]
    verdict: Annotated[Verdict | None, Field(description="The reporter's latest verdict (回访).")]
    photos: list[PhotoRef]
    version: int
    events: NotRequired[list[EventView] | None]
    allowed_actions: NotRequired[
        Annotated[list[str] | None, Field(description="The actions the reader may take now.")]
    ]


def is_overdue(report: Report, now: dt.datetime) -> bool:
    """Past its due time while the clock runs (escalation does not change this)."""
    return bool(report.due_at is not None and report.state in CLOCK_STATES and aware(report.due_at) < now)


def photo_refs(report: Report, staff: bool = True) -> list[PhotoRef]:
    """The case's photos, with the position their EXIF recorded for staff only."""
    return [
        {
            "id": photo.id,
            "kind": photo.kind,
            "url": f"/v1/photos/{photo.id}",
            "thumbnail_url": f"/v1/photos/{photo.id}/thumbnail",
            "media_type": photo.media_type,
            "width": photo.width,
            "height": photo.height,
            "taken_at": (
                {"lon": photo.gps_lon, "lat": photo.gps_lat}
                if staff and photo.gps_lon is not None and photo.gps_lat is not None
                else None
            ),
        }
        for photo in report.photos
    ]


def report_view(report: Report, catalog: Catalog, now: dt.datetime, staff: bool = True) -> ReportView:
    """The case without its history (``events`` and ``allowed_actions`` are None); ``staff``
    False for the reporter's view (no photo positions)."""
    category = catalog.get(report.category_code)
    transfer: DeskRef | None = (
        None
        if report.transfer_to is None
        else {
            "key": report.transfer_to,
            "level": report.transfer_to_level or "",
            "name": report.transfer_to_name or "",
        }
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
            **{f"{level}_code": getattr(report, f"{level}_code") for level in LEVEL_KEYS},  # type: ignore[typeddict-item]
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
        "merged_into": report.merged_into,
        "urge_count": report.urge_count or 0,
        "verdict": (
            None
            if report.satisfaction is None
            else {
                "satisfaction": report.satisfaction,
                "satisfaction_zh": SATISFACTION.get(report.satisfaction, report.satisfaction),
                "at": iso(report.verdict_at),
            }
        ),
        "photos": photo_refs(report, staff),
        "version": report.version,
        "events": None,
        "allowed_actions": None,
    }


def event_views(events: Iterable[ReportEvent], reader: Principal) -> list[EventView]:
    """The history as the reader may see it (see the module docstring)."""
    staff = reader.kind != "reporter"
    return [event_view(e) if staff else _public_event_view(e) for e in events]


def event_view(event: ReportEvent) -> EventView:
    """One step as staff read it (and as the outbox tells it)."""
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


def _public_event_view(event: ReportEvent) -> EventView:
    view = event_view(event)
    if event.action != "report" and not event.actor.startswith("system:"):  # intake names the channel
        view["actor"] = ROLES.get(event.actor_role, event.actor_role)  # a role, never a staff name
    if not event.public:
        view["note"] = ""
    view["data"] = {}
    return view
