"""What the actions of the loop change, one small function per effect.

:data:`EFFECTS` maps the effect names that :data:`routing.workflow.ACTIONS` declares to
functions of ``(report, step) -> changes``: each changes the case row (owner, clock
and due time, counters, pending requests) and returns what it changed, which the
engine (:mod:`routing.steps`) stores in the step's event (``data``), so that every
figure can be recomputed from the histories.  An effect refuses a bad request field
with an error naming it; nothing is written then (the step's transaction rolls back).

A new step of the loop is a row in the action table plus, when it changes something
new, one function here (and, when it takes a new request field, that field in
:class:`StepRequest`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geo.errors import InvalidInputError, NotFoundError
from geo.levels import LEVEL_KEYS
from routing.access import Principal, can_read
from routing.calendar import WorkCalendar
from routing.catalog import Catalog
from routing.deadlines import Due, due_after, resumed_due
from routing.desks import Desk, Desks
from routing.errors import ForbiddenError, IllegalTransitionError, UnknownDeskError
from routing.idempotency import fingerprint
from routing.workflow import SATISFACTION
from store.models import Photo, Report, ReportFollower, ReportScope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from routing.photos import PreparedPhoto

MAX_EXTENSION = dt.timedelta(days=366)
"""The furthest an extension may move a due time in one step."""


REQUEST_FIELDS = (
    "reroute_to",
    "transfer_to",
    "extend_to",
    "category",
    "merge_into",
    "satisfaction",
    "photos",
)
"""The fields of :class:`StepRequest` that some actions take (:attr:`routing.workflow.Action.fields`)."""


@dataclass(frozen=True, slots=True)
class StepRequest:
    """What a caller asks of one step: the action, its note and the fields some actions take.

    A field a new action needs is declared here (and in :data:`REQUEST_FIELDS`, and in
    the API's ``ActionRequest``); effects read it from ``step.request``.
    """

    report_id: int
    action: str
    note: str = ""
    public: bool = False
    version: int | None = None
    reroute_to: str | None = None
    transfer_to: str | None = None
    extend_to: dt.datetime | None = None
    category: str | None = None
    merge_into: int | None = None
    satisfaction: str | None = None
    photos: tuple[PreparedPhoto, ...] = ()

    @property
    def fields(self) -> dict[str, Any]:
        """The request fields that were given (:data:`REQUEST_FIELDS`; no photos: absent)."""
        values = {name: getattr(self, name) for name in REQUEST_FIELDS}
        return {name: value for name, value in values.items() if value is not None and value != ()}

    def fingerprint(self) -> str:
        """The request's fingerprint, stored with its ``Idempotency-Key`` (photos by the digest of
        their uploaded bytes)."""
        core = {"report_id": self.report_id, "action": self.action, "note": self.note, "public": self.public}
        fields = self.fields
        if "photos" in fields:
            fields["photos"] = [photo.upload_sha256 for photo in self.photos]
        return fingerprint({**core, "version": self.version, **fields})


@dataclass(frozen=True, slots=True)
class Step:
    """What the effects of one step may read: the caller, the time, the rules and the request."""

    principal: Principal
    now: dt.datetime
    catalog: Catalog
    calendar: WorkCalendar
    desks: Desks
    request: StepRequest | None = None  # None: a step of the service's own (escalation)
    session: Session | None = None  # the step's transaction, for effects that read other cases
    verdict_window: dt.timedelta = dt.timedelta(days=7)

    @property
    def asked(self) -> StepRequest:
        """The request (an empty one for the service's own steps)."""
        return self.request or StepRequest(0, "")


Effect = Callable[[Report, Step], dict[str, Any]]


def iso(value: dt.datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC (SQLite hands back naive UTC datetimes)."""
    return None if value is None else aware(value).astimezone(dt.UTC).isoformat()


def aware(value: dt.datetime) -> dt.datetime:
    """``value`` with UTC attached when it is naive (siji stores every time in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------- owner
def set_owner(report: Report, desk: Desk) -> dict[str, Any]:
    """Make ``desk`` the owner: its chain acts, the previous owners' chains keep reading.

    Also used at intake (a report with no owner yet) and by any future step that moves
    a case; it is the one place where ``owner_*`` and the report's scope change.  A
    pending transfer's ``asked`` scope is dropped.
    """
    before = report.owner_key
    earlier = {s.unit_key for s in report.scopes if s.kind in ("owner", "earlier")} - set(desk.chain)
    report.owner_key, report.owner_level, report.owner_name = desk.key, desk.level, desk.name
    report.owner_chain = list(desk.chain)
    rescope(report, [("owner", key) for key in desk.chain] + [("earlier", key) for key in sorted(earlier)])
    return {"owner": {"key": desk.key, "level": desk.level, "name": desk.name}, "owner_before": before}


def rescope(report: Report, wanted: list[tuple[str, str]]) -> None:
    """Set the report's scope rows to ``wanted`` (kind, unit key), keeping rows that stay."""
    keep = dict.fromkeys(wanted)
    current = {(s.kind, s.unit_key): s for s in report.scopes}
    report.scopes = [current.get(pair) or ReportScope(kind=pair[0], unit_key=pair[1]) for pair in keep]


def reroute(report: Report, step: Step) -> dict[str, Any]:
    """dispatch with ``reroute_to``: another desk inside the caller's scope."""
    if step.asked.reroute_to is None or step.asked.reroute_to == report.owner_key:
        return {}
    desk = step.desks.get(step.asked.reroute_to, field="reroute_to")
    caller = step.principal.unit_key
    if caller not in desk.chain:
        raise ForbiddenError(
            f"reroute_to {desk.key!r} ({desk.name}) is outside your unit {caller!r}: dispatch and reroute go "
            "to units in your scope only; to hand the case to another unit, request a transfer "
            "(action request_transfer with transfer_to), which that unit accepts or refuses",
            field="reroute_to",
            value=desk.key,
        )
    before = report.owner_key
    changed = set_owner(report, desk)
    return {**changed, "rerouted_from": before, "rerouted_to": desk.key}


# --------------------------------------------------------------------------- clock
def _set_due(report: Report, due: Due) -> dict[str, Any]:
    report.due_at = due.at
    report.due_estimated = due.estimated
    return {"due_at": iso(due.at), "due_estimated": due.estimated}


def run_clock(report: Report, step: Step) -> dict[str, Any]:
    """dispatch, resume: start the clock at the first dispatch, or continue it after a pause."""
    category = step.catalog.get(report.category_code)
    changes: dict[str, Any] = {}
    if report.due_at is None:
        report.dispatched_at = step.now
        due = due_after(category, step.calendar, step.now)
        report.original_due_at = due.at
        changes = {**_set_due(report, due), "original_due_at": iso(due.at)}
    elif report.paused_at is not None:
        due = resumed_due(category, step.calendar, aware(report.paused_at), aware(report.due_at), step.now)
        changes = _set_due(report, due)
    if report.paused_at is not None:
        changes["paused_from"] = iso(report.paused_at)
        report.paused_at = None
    return changes


def pause_clock(report: Report, step: Step) -> dict[str, Any]:
    """defer: the clock stops until the case is resumed."""
    report.paused_at = step.now
    return {"paused_at": iso(step.now)}


def supervise(report: Report, step: Step) -> dict[str, Any]:
    """escalate: one level more of supervision (督办), with its own deadline; the due time stays."""
    report.escalation_level += 1
    report.supervised = True
    due = due_after(step.catalog.get(report.category_code), step.calendar, step.now)
    report.supervision_due_at = due.at
    return {
        "escalation_level": report.escalation_level,
        "supervisor": supervisor(report),
        "supervision_due_at": iso(due.at),
    }


def supervisor(report: Report) -> str | None:
    """The unit supervising an escalated case: as many levels above the owner as it was escalated."""
    chain = report.owner_chain or []
    level = report.escalation_level
    return chain[level] if 0 < level < len(chain) else None


# --------------------------------------------------------------------------- counters
def mark_handled(report: Report, step: Step) -> dict[str, Any]:
    report.handled_at = step.now
    return {}


def count_rework(report: Report, _step: Step) -> dict[str, Any]:
    report.rework_count += 1
    report.handled_at = None
    return {"rework_count": report.rework_count}


def mark_closed(report: Report, step: Step) -> dict[str, Any]:
    report.closed_at = step.now
    if report.first_closed_at is None:
        report.first_closed_at = step.now
    return {}


def count_reopening(report: Report, _step: Step) -> dict[str, Any]:
    """reopen: the closure stays counted (``first_closed_at``); the case is counted as reopened."""
    report.reopen_count += 1
    report.closed_at = None
    report.handled_at = None
    return {"reopen_count": report.reopen_count}


# --------------------------------------------------------------------------- extension (延期)
def ask_extension(report: Report, step: Step) -> dict[str, Any]:
    wanted = step.asked.extend_to
    if wanted is None:
        raise InvalidInputError(
            "request_extension needs extend_to: the due time asked for (RFC 3339 with an offset)",
            field="extend_to",
        )
    if wanted.tzinfo is None or wanted.utcoffset() is None:
        raise InvalidInputError(
            f"extend_to={wanted.isoformat()} has no UTC offset; give one, e.g. 2025-06-01T17:30:00+08:00",
            field="extend_to",
        )
    due = aware(report.due_at) if report.due_at is not None else None
    if due is None or wanted <= due or wanted - due > MAX_EXTENSION:
        raise InvalidInputError(
            f"extend_to={wanted.isoformat()} is not allowed; allowed: after the due time "
            f"{iso(due)} and at most {MAX_EXTENSION.days} days after it",
            field="extend_to",
            value=wanted.isoformat(),
        )
    report.extension_to = wanted.astimezone(dt.UTC)
    return {"extend_to": iso(wanted)}


def grant_extension(report: Report, _step: Step) -> dict[str, Any]:
    before = report.due_at
    assert report.extension_to is not None
    changes = _set_due(report, Due(aware(report.extension_to), False))
    report.extension_to = None
    return {**changes, "due_at_before": iso(before)}


def drop_extension(report: Report, _step: Step) -> dict[str, Any]:
    refused = report.extension_to
    report.extension_to = None
    return {"extend_to": iso(refused)}


# --------------------------------------------------------------------------- transfer (转办)
def ask_transfer(report: Report, step: Step) -> dict[str, Any]:
    if step.asked.transfer_to is None:
        raise InvalidInputError(
            "request_transfer needs transfer_to: the unit or department to take the case over",
            field="transfer_to",
        )
    desk = step.desks.get(step.asked.transfer_to, field="transfer_to")
    if desk.key == report.owner_key:
        raise InvalidInputError(
            f"transfer_to {desk.key!r} already owns the case; name another unit", field="transfer_to"
        )
    report.transfer_to, report.transfer_to_level, report.transfer_to_name = desk.key, desk.level, desk.name
    rescope(report, [(s.kind, s.unit_key) for s in report.scopes] + [("asked", key) for key in desk.chain])
    return {"transfer_to": {"key": desk.key, "level": desk.level, "name": desk.name}}


def take_transfer(report: Report, step: Step) -> dict[str, Any]:
    assert report.transfer_to is not None
    desk = step.desks.get(report.transfer_to, field="transfer_to")
    _clear_transfer(report)
    changed = set_owner(report, desk)
    return {**changed, "transferred_from": changed["owner_before"]}


def drop_transfer(report: Report, _step: Step) -> dict[str, Any]:
    refused = report.transfer_to
    _clear_transfer(report)
    rescope(report, [(s.kind, s.unit_key) for s in report.scopes if s.kind != "asked"])
    return {"transfer_refused": refused}


def _clear_transfer(report: Report) -> None:
    report.transfer_to = report.transfer_to_level = report.transfer_to_name = None


# --------------------------------------------------------------------------- the desk's housekeeping
def count_urging(report: Report, _step: Step) -> dict[str, Any]:
    """urge (催办): counted on the case, for the owner's metrics; the note says what is urged."""
    report.urge_count = (report.urge_count or 0) + 1
    return {"urge_count": report.urge_count}


def recategorise(report: Report, step: Step) -> dict[str, Any]:
    """recategorise (改类): another category, and the desk it names at the case's place.

    The new desk must be in the caller's scope, as for a reroute: a category whose owner
    is outside it is set by a unit above both, or the case is transferred.
    """
    code = step.asked.category
    if code is None:
        raise InvalidInputError(
            "recategorise needs category: a category code from GET /v1/categories", field="category"
        )
    try:
        category = step.catalog.get(code)
    except NotFoundError as exc:
        raise InvalidInputError(exc.message, field="category", value=code) from exc
    if category.code == report.category_code:
        raise InvalidInputError(
            f"report {report.id} is already of category {category.code} ({category.name_zh}); name another",
            field="category",
            value=code,
        )
    desk = step.desks.route(category, _located(report, step.desks))
    caller = step.principal.unit_key
    if caller not in desk.chain:
        raise ForbiddenError(
            f"category {category.code} ({category.name_zh}) belongs to {desk.key!r} ({desk.name}), outside "
            f"your unit {caller!r}: a unit above both recategorises it, or request a transfer",
            field="category",
            value=category.code,
        )
    before = report.category_code
    report.category_code = category.code
    changes = set_owner(report, desk) if desk.key != report.owner_key else {}
    return {"category": category.code, "category_before": before, **changes}


def _located(report: Report, desks: Desks) -> dict[str, Any]:
    """The lookup answer the case was routed with: its stored unit codes, named from the active set."""
    answer: dict[str, Any] = {}
    for level in LEVEL_KEYS:
        code = getattr(report, f"{level}_code")
        if code is None:
            answer[level] = None
            continue
        try:
            answer[level] = {"code": code, "name": desks.get(code).name}
        except UnknownDeskError:
            raise InvalidInputError(
                f"the case's {level} {code!r} is not in the active boundary set, so its category's desk "
                "cannot be found; dispatch it with reroute_to instead",
                field="category",
                value=code,
            ) from None
    return answer


def merge(report: Report, step: Step) -> dict[str, Any]:
    """merge (合并): the duplicate ends as merged; its reporter (and followers) follow the original."""
    target = step.asked.merge_into
    if target is None:
        raise InvalidInputError("merge needs merge_into: the id of the original report", field="merge_into")
    if target == report.id:
        raise InvalidInputError(f"report {report.id} cannot be merged into itself", field="merge_into")
    assert step.session is not None
    original = step.session.get(Report, target, with_for_update=True)
    if original is None or not can_read(step.principal, original):
        raise ForbiddenError(
            f"merge_into: report {target} is not accessible with these credentials",
            field="merge_into",
            report_id=target,
        )
    if original.merged_into is not None:
        raise InvalidInputError(
            f"report {target} was itself merged into report {original.merged_into}; merge into that one",
            field="merge_into",
            value=target,
        )
    if original.state in ("closed", "invalid"):
        raise InvalidInputError(
            f"report {target} is {original.state}: merge into an open case (a problem that came back "
            "after closure is a case of its own, or a reason to reopen)",
            field="merge_into",
            value=target,
        )
    report.merged_into = original.id
    following = {original.reporter_token_hash, *(f.token_hash for f in original.followers)}
    for token_hash, via in [
        (report.reporter_token_hash, report.id),
        *((f.token_hash, f.via_report_id) for f in report.followers),
    ]:
        if token_hash not in following:
            original.followers.append(ReportFollower(token_hash=token_hash, via_report_id=via))
            following.add(token_hash)
    return {"merged_into": original.id}


def recall(report: Report, _step: Step) -> dict[str, Any]:
    """recall (撤回): back to the dispatcher before work starts; the clock keeps running."""
    return {"recalled_from": report.owner_key}


def record_verdict(report: Report, step: Step) -> dict[str, Any]:
    """verdict (回访): the reporter's satisfaction, once per closure, within the window after it."""
    value = step.asked.satisfaction
    if value not in SATISFACTION:
        listed = ", ".join(f"{code} ({zh})" for code, zh in SATISFACTION.items())
        raise InvalidInputError(
            f"satisfaction {value!r} is not allowed; allowed: {listed}",
            field="satisfaction",
            value=value,
            allowed=list(SATISFACTION),
        )
    assert report.closed_at is not None
    closed = aware(report.closed_at)
    ends = closed + step.verdict_window
    if step.now > ends:
        raise IllegalTransitionError(
            f"the verdict on report {report.id} was open for {_days(step.verdict_window)} after its "
            f"closure at {iso(closed)}, until {iso(ends)} (SIJI_VERDICT_DAYS); it is closed now",
            state=report.state,
            action="verdict",
            allowed=[],
        )
    if report.verdict_at is not None and aware(report.verdict_at) >= closed:
        raise IllegalTransitionError(
            f"report {report.id} was rated {report.satisfaction} at {iso(report.verdict_at)}; one verdict "
            "per closure",
            state=report.state,
            action="verdict",
            allowed=[],
        )
    report.satisfaction = value
    report.verdict_at = step.now
    return {"satisfaction": value}


def _days(window: dt.timedelta) -> str:
    days = window / dt.timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"


def attach_photos(report: Report, step: Step) -> dict[str, Any]:
    """handle with photos (处置后照片): rows for the prepared photos, named in the step's event."""
    if not step.asked.photos:
        return {}
    add_photos(report, step.asked.photos, "handled", step.now)
    return {"photos": [photo.name for photo in step.asked.photos]}


def add_photos(report: Report, photos: tuple[PreparedPhoto, ...], kind: str, now: dt.datetime) -> None:
    """Rows of ``photos`` (already staged in the media store) for ``report``."""
    for photo in photos:
        report.photos.append(
            Photo(
                kind=kind, name=photo.name, media_type=photo.media_type, width=photo.width,
                height=photo.height, size_bytes=len(photo.data), sha256=photo.sha256,
                upload_sha256=photo.upload_sha256, gps_lon=photo.gps_lon, gps_lat=photo.gps_lat,
                created_at=now,
            )
        )  # fmt: skip


EFFECTS: dict[str, Effect] = {
    "reroute": reroute,
    "run_clock": run_clock,
    "pause_clock": pause_clock,
    "supervise": supervise,
    "mark_handled": mark_handled,
    "count_rework": count_rework,
    "mark_closed": mark_closed,
    "count_reopening": count_reopening,
    "ask_extension": ask_extension,
    "grant_extension": grant_extension,
    "drop_extension": drop_extension,
    "ask_transfer": ask_transfer,
    "take_transfer": take_transfer,
    "drop_transfer": drop_transfer,
    "count_urging": count_urging,
    "recategorise": recategorise,
    "merge": merge,
    "recall": recall,
    "record_verdict": record_verdict,
    "attach_photos": attach_photos,
}
"""Effect name (as the action table declares it) → function."""
