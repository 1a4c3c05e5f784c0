"""Reports through their closed loop, stored in the one database layer.

:class:`ReportService` is what the HTTP API, Open311 and the command line call:
intake (route to a desk, deduplicate, idempotency), reading with access checks, the
steps of the loop (checked and applied by :mod:`routing.steps` from the table of
:mod:`routing.workflow`), escalation and the case exports.  Every change is one
transaction; a report answered 201 is committed (and, on SQLite, fsynced) before the
answer leaves.

Staff actions and staff reads of cases are written to the audit log
(:mod:`routing.audit`) in the same transaction as the action; a step's state change,
its event and its audit entry commit together or not at all.  Refused reads and
refused steps are recorded too, readable by the supervisors of the case's owner.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyproj import Geod
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from boundaries.service import BoundaryService
from geo.errors import InvalidInputError, NotFoundError, SijiError
from geo.levels import LEVEL_KEYS
from geo.locate import locate_point
from routing import audit, exports, steps
from routing.access import (
    Principal,
    hash_token,
    owner_chain,
    raise_forbidden,
    require_credentials,
    require_read,
    require_staff,
)
from routing.calendar import WorkCalendar, default_calendar
from routing.catalog import Catalog, default_catalog
from routing.desks import Departments, Desks, default_departments
from routing.effects import Step, set_owner
from routing.errors import ForbiddenError, IdempotencyConflictError, VersionConflictError
from routing.idempotency import check_key, check_replay, fingerprint
from routing.intake import ReportIn
from routing.views import event_views, report_view
from routing.workflow import ACTIONS, CLOCK_STATES, OPEN_STATES, STATES
from store.models import Report, ReportEvent, ReportScope

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Engine

_GEOD = Geod(ellps="WGS84")
ESCALATABLE = CLOCK_STATES
"""States in which an overdue case is escalated (the clock runs)."""
SYSTEM = Principal("staff", name="system:escalation", role="supervisor", address="service")
"""The service's own escalation schedule, as it appears in events and the audit log."""
PENDING_FILTERS = ("extension", "transfer")
READ_SCOPES = ("owner", "earlier", "asked")
ACT_SCOPES = ("owner",)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Acted:
    """The outcome of an action: the report after it, and whether this was a replay.

    ``replayed`` is True when the ``Idempotency-Key`` had already taken the step: no
    second step was taken, and ``report`` is the case as it is now.
    """

    report: dict[str, Any]
    replayed: bool


@dataclass(frozen=True, slots=True)
class Submitted:
    """The outcome of an intake: the report, whether it is new, the reporter's token."""

    report: dict[str, Any]
    created: bool
    reporter_token: str


class ReportService:
    """Intake, access, the loop, deadlines and escalation.

    Parameters
    ----------
    engine : Engine
    boundaries : BoundaryService
        Routes points through the active boundary generation.
    secret : str
        Derives reporter tokens from idempotency keys, so that a retried intake gets
        the same token back.
    catalog, calendar, departments : optional
        The rules (default: the packaged files); the departments are checked against
        the catalog here, so a bad pair stops the start.
    duplicate_distance_m : float
        Open reports of the same category closer than this are linked as duplicates.
    escalation_max_level : int
        How many levels a case may climb (community → subdistrict → district → city).
    """

    def __init__(
        self,
        engine: Engine,
        boundaries: BoundaryService,
        *,
        secret: str,
        catalog: Catalog | None = None,
        calendar: WorkCalendar | None = None,
        departments: Departments | None = None,
        duplicate_distance_m: float = 50.0,
        escalation_max_level: int = 3,
        clock: Any = utcnow,
    ) -> None:
        self.engine = engine
        self.boundaries = boundaries
        self.catalog = catalog or default_catalog()
        self.calendar = calendar or default_calendar()
        self.departments = departments or default_departments()
        self.departments.check_catalog(self.catalog)
        self.secret = secret.encode()
        self.duplicate_distance_m = duplicate_distance_m
        self.escalation_max_level = escalation_max_level
        self.clock = clock

    @classmethod
    def from_files(
        cls,
        engine: Engine,
        boundaries: BoundaryService,
        *,
        catalog_path: str | Path | None = None,
        calendar_path: str | Path | None = None,
        departments_path: str | Path | None = None,
        **options: Any,
    ) -> ReportService:
        """A service with the rules read from files (``None``: the packaged one), as the
        ``SIJI_CATALOG_PATH``, ``SIJI_CALENDAR_PATH`` and ``SIJI_DEPARTMENTS_PATH`` settings
        name them; ``options`` are the other parameters.  Every file is validated here."""
        from routing.catalog import load_catalog
        from routing.desks import load_departments

        return cls(
            engine,
            boundaries,
            catalog=load_catalog(catalog_path) if catalog_path else None,
            calendar=WorkCalendar.load(calendar_path) if calendar_path else None,
            departments=load_departments(departments_path) if departments_path else None,
            **options,
        )

    def _now(self) -> dt.datetime:
        # Stored in UTC: SQLite keeps no offset, so a local time would read back wrong.
        now: dt.datetime = self.clock()
        return now.astimezone(dt.UTC)

    def _index(self) -> Any:
        """The active index, or None while there is no active generation."""
        try:
            return self.boundaries.index()[1]
        except SijiError:
            return None

    def desks(self) -> Desks:
        """Desk keys resolved against the active boundary set and the departments."""
        return Desks(self._index(), self.departments)

    # --- intake -------------------------------------------------------------------------
    def submit(self, report: ReportIn, idempotency_key: str | None = None) -> Submitted:
        """Route and store a new report; a retry with the same key returns the first one.

        Raises
        ------
        InvalidInputError
            Bad fields, an unknown category, or a point outside the city (with the reason).
        IdempotencyConflictError
            The key was used for a report with another payload (422).
        """
        report = report.checked()
        try:
            category = self.catalog.get(report.category)
        except NotFoundError as exc:
            raise InvalidInputError(exc.message, field="category", value=report.category) from exc
        payload = fingerprint(dataclasses.asdict(report))
        if idempotency_key is not None:
            check_key(idempotency_key)
            existing = self._by_idempotency_key(idempotency_key, payload)
            if existing is not None:
                return Submitted(existing, False, self._reporter_token(idempotency_key))
        generation, index = self.boundaries.index()
        answer = locate_point(index, report.x, report.y, report.crs)
        if answer["status"] == "outside":
            raise InvalidInputError(
                f"the point ({report.x}, {report.y}) in {report.crs} is outside the city's boundary set and "
                f"more than {index.snap_distance_m:g} m from it; reports are accepted inside the city only",
                field="location",
                status="outside",
            )
        desk = Desks(index, self.departments).route(category, answer)
        lon, lat = _wgs84(report)
        token = (
            self._reporter_token(idempotency_key) if idempotency_key else "rp_" + secrets.token_urlsafe(32)
        )
        now = self._now()
        row = Report(
            created_at=now,
            category_code=category.code,
            description=report.description,
            photo_urls=list(report.photo_urls),
            address=report.address,
            reporter_contact=report.contact,
            reporter_token_hash=hash_token(token),
            channel=report.channel,
            x=report.x,
            y=report.y,
            crs=report.crs,
            lon=lon,
            lat=lat,
            generation_id=generation.id,
            lookup_status=answer["status"],
            lookup_candidates=[c["code"] for c in answer.get("candidates", [])],
            distance_m=answer.get("distance_m"),
            state="reported",
            rework_count=0,
            reopen_count=0,
            escalation_level=0,
            idempotency_key=idempotency_key,
            idempotency_fingerprint=payload if idempotency_key else None,
            **{f"{level}_code": (answer[level] or {}).get("code") for level in LEVEL_KEYS},
        )
        owner = set_owner(row, desk)
        try:
            with Session(self.engine) as session, session.begin():
                row.duplicate_of = self._duplicate_of(session, category.code, lon, lat)
                session.add(row)
                session.flush()
                note = "; ".join(n for n in (desk.note, _lookup_note(answer)) if n)
                intake = Principal("anonymous", name=report.channel)
                data = {"owner": owner["owner"]}
                session.add(steps.event(row, now, "report", None, "reported", intake, note, data))
                view = report_view(row, self.catalog, self._now())
        except IntegrityError:
            # Two retries raced: the other one stored the report first.
            if idempotency_key is None:
                raise
            existing = self._by_idempotency_key(idempotency_key, payload)
            if existing is None:
                raise
            return Submitted(existing, False, token)
        return Submitted(view, True, token)

    def _reporter_token(self, idempotency_key: str) -> str:
        digest = hmac.new(self.secret, b"reporter:" + idempotency_key.encode(), hashlib.sha256).hexdigest()
        return "rp_" + digest

    def _by_idempotency_key(self, key: str, payload: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.scalar(select(Report).where(Report.idempotency_key == key))
            if row is None:
                return None
            check_replay(key, row.idempotency_fingerprint, payload, f"for report {row.id}")
            return report_view(row, self.catalog, self._now())

    def _duplicate_of(self, session: Session, category: str, lon: float, lat: float) -> int | None:
        """The earliest open report of the same category within the duplicate distance."""
        pad = self.duplicate_distance_m / 80_000.0  # degrees; generous at Tai'an's latitude
        nearby = session.execute(
            select(Report.id, Report.lon, Report.lat)
            .where(
                Report.category_code == category,
                Report.state.in_(OPEN_STATES),
                Report.duplicate_of.is_(None),
                Report.lon.between(lon - pad, lon + pad),
                Report.lat.between(lat - pad, lat + pad),
            )
            .order_by(Report.id)
        ).all()
        for report_id, other_lon, other_lat in nearby:
            if _GEOD.inv(lon, lat, other_lon, other_lat)[2] <= self.duplicate_distance_m:
                return int(report_id)
        return None

    # --- reading ------------------------------------------------------------------------
    def get(self, report_id: int, principal: Principal) -> dict[str, Any]:
        """One report with its history, if the principal may read it.

        Staff reads are audited; refused reads (staff and reporters) are recorded,
        readable by the supervisors of the case's owner.
        """
        require_credentials(principal)
        try:
            return self._get(report_id, principal)
        except ForbiddenError as error:
            self._refused(principal, "report.read", error, report_id)
            raise

    def _get(self, report_id: int, principal: Principal) -> dict[str, Any]:
        with Session(self.engine) as session, session.begin():
            row = session.get(Report, report_id)
            if row is None:
                if principal.is_staff and principal.unit_key == self.desks().city_code:
                    raise NotFoundError(f"report {report_id} does not exist", report_id=report_id)
                raise_forbidden(report_id)
            assert row is not None
            require_read(principal, row, report_id)
            view = report_view(row, self.catalog, self._now())
            events = session.scalars(
                select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
            ).all()
            view["events"] = event_views(events, principal)
            view["allowed_actions"] = steps.allowed_for(row, principal, self.desks())
            if principal.is_staff:
                # who looked at a case (and its reporter's contact) is audited like an action
                session.add(
                    audit.entry(
                        principal, "report.read", self._now(), scope=self._chain(principal, row),
                        report_id=report_id,
                    )
                )  # fmt: skip
            return view

    def list_reports(
        self,
        principal: Principal,
        *,
        state: str | None = None,
        category: str | None = None,
        overdue: bool = False,
        pending: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Reports the principal may read (owned by their chain, owned earlier, or asked of
        them), newest first; ``pending`` keeps those with a pending ``extension`` or
        ``transfer`` request."""
        require_staff(principal)
        query = select(Report).where(_in_scope(principal, READ_SCOPES))
        if state is not None:
            if state not in STATES:
                raise InvalidInputError(
                    f"unknown state {state!r}; allowed: {', '.join(STATES)}", field="state", value=state
                )
            query = query.where(Report.state == state)
        if category is not None:
            query = query.where(Report.category_code == self.catalog.get(category).code)
        if overdue:
            query = query.where(Report.due_at < self._now(), Report.state.in_(CLOCK_STATES))
        if pending is not None:
            if pending not in PENDING_FILTERS:
                raise InvalidInputError(
                    f"unknown pending request {pending!r}; allowed: {', '.join(PENDING_FILTERS)}",
                    field="pending",
                    value=pending,
                )
            column = Report.extension_to if pending == "extension" else Report.transfer_to
            query = query.where(column.is_not(None))
        with Session(self.engine) as session, session.begin():
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(Report.id.desc()).limit(limit).offset(offset)).all()
            filters = {"state": state, "category": category, "overdue": overdue or None, "pending": pending}
            session.add(
                audit.entry(
                    principal, "reports.list", self._now(), scope=self._chain(principal),
                    detail={
                        "filters": {k: v for k, v in filters.items() if v is not None},
                        "limit": limit, "offset": offset, "returned": len(rows), "total": total,
                    },
                )
            )  # fmt: skip
            return total, [report_view(r, self.catalog, self._now()) for r in rows]

    def _chain(self, principal: Principal, *reports: Report) -> list[str]:
        """The audit scope: the principal's unit chain and each report's owner chain."""
        keys = list(self.desks().chain(principal.unit_key))
        for report in reports:
            keys += owner_chain(report)
        return keys

    def _refused(self, principal: Principal, action: str, error: SijiError, report_id: int | None) -> None:
        """Record a refusal, for the caller's supervisors and for those of the case's owner."""
        scope = self._chain(principal)
        if report_id is not None:
            with Session(self.engine) as session:
                chain = session.scalar(select(Report.owner_chain).where(Report.id == report_id))
            scope += list(chain or [])
        audit.record_refusal(
            self.engine, principal, action[:64], error, self._now(), scope=scope, report_id=report_id
        )

    def audit_log(self, principal: Principal, query: audit.AuditQuery) -> tuple[int, list[dict[str, Any]]]:
        """The audit entries the principal may read (see :func:`routing.audit.read`)."""
        return audit.read(self.engine, principal, query, self._index(), self._now())

    # --- the loop -----------------------------------------------------------------------
    def act(self, report_id: int, action_name: str, principal: Principal, **request: Any) -> dict[str, Any]:
        """Take one step of the loop; see :meth:`act_once`.  Returns the report after it."""
        return self.act_once(report_id, action_name, principal, **request).report

    def act_once(
        self,
        report_id: int,
        action_name: str,
        principal: Principal,
        *,
        note: str = "",
        public: bool = False,
        reroute_to: str | None = None,
        transfer_to: str | None = None,
        extend_to: dt.datetime | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Acted:
        """Take one step of the loop: the new state, its event and its audit entry commit together.

        Parameters
        ----------
        note : str
            The reason or remark; ``public`` makes it a reply the reporter reads.
        reroute_to, transfer_to, extend_to : optional
            The request fields of ``dispatch``, ``request_transfer`` and
            ``request_extension`` (see :data:`routing.workflow.ACTIONS`).
        expected_version : int, optional
            The version the caller read; a case changed since is a 409 ``version_conflict``.
        idempotency_key : str, optional
            8 to 128 characters, stored with the step and its request's fingerprint.  A
            retry with the same key and request takes no second step and returns the
            case with ``replayed=True``; the key with another request is a 422.

        Raises
        ------
        UnauthenticatedError, ForbiddenError
            No credentials; not staff, out of scope, or a role or relation that may not
            take the action.
        UnknownActionError
            No such action (422, listing the actions).
        IllegalTransitionError
            The action is not allowed from the current state (409, naming the actions
            the caller may take); :class:`VersionConflictError` for a stale version.
        IdempotencyConflictError
            The key was used for another request or by another token (422).
        """
        require_staff(principal)
        if len(note) > 4000:
            raise InvalidInputError("note is over 4,000 characters", field="note")
        if idempotency_key is not None:
            check_key(idempotency_key)
        fields = {"reroute_to": reroute_to, "transfer_to": transfer_to, "extend_to": extend_to}
        request = {
            "report_id": report_id, "action": action_name, "note": note, "public": public,
            "version": expected_version, **{k: v for k, v in fields.items() if v is not None},
        }  # fmt: skip
        payload = fingerprint(request)
        try:
            try:
                return self._act(
                    report_id, action_name, principal, note, public, fields, expected_version,
                    idempotency_key, payload,
                )  # fmt: skip
            except (IntegrityError, StaleDataError) as race:
                # Another request changed the case between our read and our write: the
                # same key's retry committed its step first (replay it), or another step
                # did (a 409, as for a stale version).
                replayed = self._raced(report_id, action_name, principal, idempotency_key, payload)
                if replayed is not None:
                    return replayed
                if isinstance(race, IntegrityError):
                    raise
                raise VersionConflictError(
                    f"report {report_id} changed while this step was taken (another step came first); "
                    "reload it",
                    report_id=report_id,
                    version=self._version(report_id),
                ) from race
        except SijiError as error:
            self._refused(principal, f"report.{action_name}", error, report_id)
            raise

    def _act(
        self,
        report_id: int,
        action_name: str,
        principal: Principal,
        note: str,
        public: bool,
        fields: dict[str, Any],
        expected_version: int | None,
        idempotency_key: str | None,
        payload: str,
    ) -> Acted:
        with Session(self.engine) as session, session.begin():
            row = session.get(Report, report_id, with_for_update=True)
            if row is None:
                raise_forbidden(report_id)
            assert row is not None
            require_read(principal, row, report_id)
            if idempotency_key is not None:
                first = _event_by_key(session, idempotency_key)
                if first is not None:
                    return self._replay(
                        row, first, report_id, action_name, principal, idempotency_key, payload
                    )
            if expected_version is not None and expected_version != row.version:
                raise VersionConflictError(
                    f"report {report_id} changed since you read it (version {row.version}, you had "
                    f"{expected_version}); reload it",
                    version=row.version,
                )
            desks = self.desks()
            action = steps.check(row, action_name, principal, desks, note, fields)
            now = self._now()
            chain_before = owner_chain(row)
            step = Step(principal, now, self.catalog, self.calendar, desks, **fields)
            event = steps.take(row, action, step, note, public)
            event.idempotency_key = idempotency_key
            event.idempotency_fingerprint = payload if idempotency_key else None
            session.add(event)
            session.add(
                audit.entry(
                    principal, f"report.{action.name}", now,
                    scope=[*self._chain(principal, row), *chain_before], report_id=row.id,
                    detail={
                        "from_state": event.from_state, "to_state": event.to_state, "version": row.version,
                        **event.data,
                    },
                )
            )  # fmt: skip
            session.flush()
            return Acted(report_view(row, self.catalog, self._now()), replayed=False)

    def _version(self, report_id: int) -> int | None:
        with Session(self.engine) as session:
            return session.scalar(select(Report.version).where(Report.id == report_id))

    def _raced(
        self, report_id: int, action_name: str, principal: Principal, key: str | None, payload: str
    ) -> Acted | None:
        """The replay of the step stored under ``key`` by a racing request, if there is one."""
        if key is None:
            return None
        with Session(self.engine) as session:
            row = session.get(Report, report_id)
            first = _event_by_key(session, key)
            if row is None or first is None:
                return None
            return self._replay(row, first, report_id, action_name, principal, key, payload)

    def _replay(
        self,
        row: Report,
        first: ReportEvent,
        report_id: int,
        action_name: str,
        principal: Principal,
        key: str,
        payload: str,
    ) -> Acted:
        """The answer to a retried action, or a 422 when the key was used for something else."""
        if (first.actor, first.actor_role, first.actor_unit) != (
            principal.name,
            principal.role,
            principal.unit_key,
        ):
            raise IdempotencyConflictError(
                "this Idempotency-Key was already used by another token; use a new key for each request",
                field="Idempotency-Key",
                key=key,
            )
        stored = first.idempotency_fingerprint
        if stored is None:  # a step stored before fingerprints were kept: compared on what it has
            stored = payload if (first.report_id, first.action) == (report_id, action_name) else ""
        check_replay(key, stored, payload, f"to {first.action} report {first.report_id}")
        require_read(principal, row, report_id)
        return Acted(report_view(row, self.catalog, self._now()), replayed=True)

    # --- deadlines and escalation ---------------------------------------------------------
    def escalate_overdue(
        self, now: dt.datetime | None = None, actor: Principal | None = None
    ) -> list[dict[str, Any]]:
        """Escalate every overdue case one level up its owner's chain, with the 督办 flag.

        A case escalated stays with its owner, who must still handle it, and keeps its
        due time (so a late case stays late in the metrics); the unit one level further
        up now supervises it, with a supervision deadline of the category's limit, so a
        case that stalls again climbs again (up to the city).

        Parameters
        ----------
        actor : Principal, optional
            Who asked for the run (a supervisor over HTTP, an operator at the command
            line), for the audit log; the service's own schedule by default, whose runs
            are audited only when they escalate something.
        """
        now = (now or self._now()).astimezone(dt.UTC)
        for _ in range(2):
            try:
                return self._escalate(now, actor)
            except StaleDataError:  # a step changed a case while we escalated: run again
                continue
        return self._escalate(now, actor)

    def _escalate(self, now: dt.datetime, actor: Principal | None) -> list[dict[str, Any]]:
        escalated = []
        scope: list[str] = []
        escalate = ACTIONS["escalate"]
        with Session(self.engine) as session, session.begin():
            rows = session.scalars(
                select(Report)
                .where(
                    Report.state.in_(CLOCK_STATES),
                    Report.due_at < now,
                    Report.supervision_due_at.is_(None) | (Report.supervision_due_at < now),
                )
                .order_by(Report.id)
                .with_for_update()
            ).all()
            step = Step(SYSTEM, now, self.catalog, self.calendar, self.desks())
            for row in rows:
                chain = owner_chain(row)
                level = row.escalation_level + 1
                if level > self.escalation_max_level or level >= len(chain):
                    continue
                note = f"overdue: escalated to {chain[level]} for supervision (督办)"
                session.add(steps.take(row, escalate, step, note))
                escalated.append({"id": row.id, "supervisor": chain[level], "level": level})
                scope += chain
            if actor is not None or escalated:
                who = actor or SYSTEM
                session.add(
                    audit.entry(
                        who, "escalation.run", now, scope=[*self._chain(who), *scope],
                        detail={"escalated": [e["id"] for e in escalated][:1000], "count": len(escalated)},
                    )
                )  # fmt: skip
        return escalated

    # --- exports ------------------------------------------------------------------------
    def read_rows(
        self,
        query: Any,
        principal: Principal | None,
        action: str,
        counted: str,
        kinds: tuple[str, ...] = ACT_SCOPES,
    ) -> list[Any]:
        """Rows of a report ``query``: only the principal's cases when one is given (their
        chain owns them now, by default), and then the read is audited (``action``, with
        the row count under ``counted``) in the same transaction."""
        if principal is not None:
            require_staff(principal)
            query = query.where(_in_scope(principal, kinds))
        with Session(self.engine) as session, session.begin():
            rows = list(session.execute(query).all())
            if principal is not None:
                session.add(
                    audit.entry(
                        principal, action, self._now(), scope=self._chain(principal),
                        detail={counted: len(rows)},
                    )
                )  # fmt: skip
        return rows

    def cases_frame(self, principal: Principal | None = None) -> Any:
        """Cases as a DataFrame for metrics (see :func:`routing.exports.cases_frame`)."""
        return exports.cases_frame(self, principal)


def reports_geoframe(service: ReportService, principal: Principal | None = None) -> Any:
    """Reports as a GeoDataFrame of WGS84 points for maps (see :func:`routing.exports.reports_geoframe`)."""
    return exports.reports_geoframe(service, principal)


def _event_by_key(session: Session, key: str) -> ReportEvent | None:
    event: ReportEvent | None = session.scalar(select(ReportEvent).where(ReportEvent.idempotency_key == key))
    return event


def _in_scope(principal: Principal, kinds: tuple[str, ...]) -> ColumnElement[bool]:
    """SQL condition: reports whose scope of one of ``kinds`` names the principal's unit."""
    return Report.id.in_(
        select(ReportScope.report_id).where(
            ReportScope.unit_key == (principal.unit_key or ""), ReportScope.kind.in_(kinds)
        )
    )


def _wgs84(report: ReportIn) -> tuple[float, float]:
    from geo.crs import to_wgs84

    lon, lat = to_wgs84([report.x], [report.y], report.crs)
    return float(lon[0]), float(lat[0])


def _lookup_note(answer: dict[str, Any]) -> str:
    status = answer["status"]
    if status == "boundary":
        codes = ", ".join(c["code"] for c in answer.get("candidates", []))
        return f"the point is on a shared boundary (candidates {codes}); check the assignment"
    if status == "snapped":
        return (
            f"the point is {answer.get('distance_m')} m outside the boundary set; snapped to the nearest unit"
        )
    if status == "gap":
        return "the point is in a gap of the boundary set"
    return ""


__all__ = ["ESCALATABLE", "SYSTEM", "Acted", "ReportService", "Submitted", "reports_geoframe"]
