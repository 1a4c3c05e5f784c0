"""Reports through their closed loop, stored in the one database layer.

:class:`ReportService` is what the HTTP API, Open311 and the command line call:
intake (route, deduplicate, idempotency), reading with access checks, transitions with
their events, deadlines and escalation.  Every change is one transaction; a report
answered 201 is committed (and, on SQLite, fsynced) before the answer leaves.

Staff actions and staff reads of cases are written to the audit log
(:mod:`routing.audit`) in the same transaction as the action; a transition's state
change, its event and its audit entry commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyproj import Geod
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from boundaries.service import BoundaryService
from geo.errors import InvalidInputError, NotFoundError, SijiError, UnknownUnitError
from geo.levels import LEVEL_KEYS
from geo.locate import locate_point
from routing import audit
from routing.access import (
    Principal,
    hash_token,
    owner_chain,
    raise_forbidden,
    require_read,
    require_staff,
)
from routing.calendar import WorkCalendar, default_calendar
from routing.catalog import Catalog, default_catalog
from routing.intake import CHANNELS, ReportIn, route
from routing.workflow import (
    ACTIONS,
    OPEN_STATES,
    STATES,
    IdempotencyConflictError,
    IllegalTransitionError,
    allowed_actions,
    transition,
)
from store.models import Report, ReportEvent

if TYPE_CHECKING:
    from sqlalchemy import Engine

_GEOD = Geod(ellps="WGS84")
ESCALATABLE = frozenset({"dispatched", "in_progress", "rework", "returned"})
SYSTEM = Principal("staff", name="system:escalation", role="supervisor", address="service")
"""The service's own escalation schedule, as it appears in events and the audit log."""


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
        duplicate_distance_m: float = 50.0,
        escalation_max_level: int = 3,
        clock: Any = utcnow,
    ) -> None:
        self.engine = engine
        self.boundaries = boundaries
        self.catalog = catalog or default_catalog()
        self.calendar = calendar or default_calendar()
        self.secret = secret.encode()
        self.duplicate_distance_m = duplicate_distance_m
        self.escalation_max_level = escalation_max_level
        self.clock = clock

    def _now(self) -> dt.datetime:
        # Stored in UTC: SQLite keeps no offset, so a local time would read back wrong.
        now: dt.datetime = self.clock()
        return now.astimezone(dt.UTC)

    def _due(self, category_code: str, start: dt.datetime) -> dt.datetime:
        return self.catalog.get(category_code).due(start, self.calendar).astimezone(dt.UTC)

    # --- intake -------------------------------------------------------------------------
    def submit(self, report: ReportIn, idempotency_key: str | None = None) -> Submitted:
        """Route and store a new report; a retry with the same key returns the first one.

        Raises
        ------
        InvalidInputError
            Bad fields, an unknown category, or a point outside the city (with the reason).
        """
        report = report.checked()
        try:
            category = self.catalog.get(report.category)
        except NotFoundError as exc:
            raise InvalidInputError(exc.message, field="category", value=report.category) from exc
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            existing = self._by_idempotency_key(idempotency_key)
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
        owner = route(category, answer)
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
            owner_key=owner.key,
            owner_level=owner.level,
            owner_name=owner.name,
            state="reported",
            idempotency_key=idempotency_key,
            **{f"{level}_code": (answer[level] or {}).get("code") for level in LEVEL_KEYS},
        )
        try:
            with Session(self.engine) as session, session.begin():
                row.duplicate_of = self._duplicate_of(session, category.code, lon, lat)
                session.add(row)
                session.flush()
                note = "; ".join(n for n in (owner.note, _lookup_note(answer)) if n)
                session.add(
                    _event(
                        row,
                        now,
                        "report",
                        None,
                        "reported",
                        Principal("anonymous", name=report.channel),
                        note,
                    )
                )
                view = _view(row, self.catalog, self._now())
        except IntegrityError:
            # Two retries raced: the other one stored the report first.
            if idempotency_key is None:
                raise
            existing = self._by_idempotency_key(idempotency_key)
            if existing is None:
                raise
            return Submitted(existing, False, token)
        return Submitted(view, True, token)

    def _reporter_token(self, idempotency_key: str) -> str:
        digest = hmac.new(self.secret, b"reporter:" + idempotency_key.encode(), hashlib.sha256).hexdigest()
        return "rp_" + digest

    def _by_idempotency_key(self, key: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.scalar(select(Report).where(Report.idempotency_key == key))
            return None if row is None else _view(row, self.catalog, self._now())

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
        """One report with its events, if the principal may read it (staff reads are audited)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(Report, report_id)
            if row is None:
                if principal.is_staff and principal.unit_key == self._city_key():
                    raise NotFoundError(f"report {report_id} does not exist", report_id=report_id)
                raise_forbidden(report_id)
            assert row is not None
            require_read(principal, row, report_id)
            view = _view(row, self.catalog, self._now())
            events = session.scalars(
                select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
            ).all()
            view["events"] = [_event_view(e) for e in events]
            view["allowed_actions"] = allowed_actions(row.state, principal.role) if principal.is_staff else []
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
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Reports the principal may read, newest first."""
        require_staff(principal)
        query = select(Report).where(_scope(principal))
        if state is not None:
            if state not in STATES:
                raise InvalidInputError(
                    f"unknown state {state!r}; allowed: {', '.join(STATES)}", field="state", value=state
                )
            query = query.where(Report.state == state)
        if category is not None:
            query = query.where(Report.category_code == self.catalog.get(category).code)
        if overdue:
            query = query.where(Report.due_at < self._now(), Report.state.in_(ESCALATABLE))
        with Session(self.engine) as session, session.begin():
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(Report.id.desc()).limit(limit).offset(offset)).all()
            filters = {"state": state, "category": category, "overdue": overdue or None}
            session.add(
                audit.entry(
                    principal, "reports.list", self._now(), scope=self._chain(principal),
                    detail={
                        "filters": {k: v for k, v in filters.items() if v is not None},
                        "limit": limit, "offset": offset, "returned": len(rows), "total": total,
                    },
                )
            )  # fmt: skip
            return total, [_view(r, self.catalog, self._now()) for r in rows]

    def _city_key(self) -> str | None:
        _, index = self.boundaries.index()
        cities = index.units.codes[index.units.ranks == 0]
        return str(cities[0]) if len(cities) else None

    def _index(self) -> Any:
        """The active index, or None while there is no active generation."""
        try:
            return self.boundaries.index()[1]
        except SijiError:
            return None

    def _chain(self, principal: Principal, *reports: Report) -> list[str]:
        """The audit scope: the principal's unit chain and each report's owner chain."""
        keys = audit.unit_chain(self._index(), principal.unit_key)
        for report in reports:
            keys += owner_chain(report)
        return keys

    def audit_log(self, principal: Principal, query: audit.AuditQuery) -> tuple[int, list[dict[str, Any]]]:
        """The audit entries the principal may read (see :func:`routing.audit.read`)."""
        return audit.read(self.engine, principal, query, self._index(), self._now())

    # --- the loop -----------------------------------------------------------------------
    def act(
        self,
        report_id: int,
        action_name: str,
        principal: Principal,
        *,
        note: str = "",
        reroute_to: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Take one step of the loop; see :meth:`act_once`.  Returns the report after it."""
        return self.act_once(
            report_id,
            action_name,
            principal,
            note=note,
            reroute_to=reroute_to,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        ).report

    def act_once(
        self,
        report_id: int,
        action_name: str,
        principal: Principal,
        *,
        note: str = "",
        reroute_to: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Acted:
        """Take one step of the loop: the new state, its event and its audit entry commit together.

        Parameters
        ----------
        idempotency_key : str, optional
            8 to 128 characters, stored with the step.  A retry with the same key (the
            same report, action and token) takes no second step and returns the case
            with ``replayed=True``: the answer to a request whose first answer was lost.

        Raises
        ------
        ForbiddenError
            Not staff, out of scope, or a role that may not take the action.
        IllegalTransitionError
            The action is not allowed from the current state (409, naming the allowed ones).
        IdempotencyConflictError
            The key was used for another report, action or token (409).
        """
        require_staff(principal)
        if len(note) > 4000:
            raise InvalidInputError("note is over 4,000 characters", field="note")
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
        try:
            try:
                return self._act(
                    report_id, action_name, principal, note, reroute_to, expected_version, idempotency_key
                )
            except (IntegrityError, StaleDataError) as race:
                # Another request changed the case between our read and our write: the
                # same key's retry committed its step first (replay it), or another step
                # did (a 409, as for a stale version).
                replayed = self._raced(report_id, action_name, principal, idempotency_key)
                if replayed is not None:
                    return replayed
                if isinstance(race, IntegrityError):
                    raise
                raise IllegalTransitionError(
                    f"report {report_id} changed while this step was taken (another step came first); "
                    "reload it",
                    report_id=report_id,
                ) from race
        except SijiError as error:
            audit.record_refusal(
                self.engine, principal, f"report.{action_name}"[:64], error, self._now(),
                scope=self._chain(principal), report_id=report_id,
            )  # fmt: skip
            raise

    def _act(
        self,
        report_id: int,
        action_name: str,
        principal: Principal,
        note: str,
        reroute_to: str | None,
        expected_version: int | None,
        idempotency_key: str | None,
    ) -> Acted:
        with Session(self.engine) as session, session.begin():
            row = session.get(Report, report_id, with_for_update=True)
            if row is None:
                raise_forbidden(report_id)
            assert row is not None
            require_read(principal, row, report_id)
            assert principal.role is not None
            if idempotency_key is not None:
                first = _event_by_key(session, idempotency_key)
                if first is not None:
                    return self._replay(row, first, report_id, action_name, principal, idempotency_key)
            if expected_version is not None and expected_version != row.version:
                raise IllegalTransitionError(
                    f"report {report_id} changed since you read it (version {row.version}, you had "
                    f"{expected_version}); reload it",
                    version=row.version,
                )
            action = transition(row.state, action_name, principal.role, note)
            now = self._now()
            before = row.state
            chain_before = owner_chain(row)
            data: dict[str, Any] = {}
            if action.name == "dispatch" and reroute_to is not None:
                data["rerouted_from"] = row.owner_key
                self._reroute(row, reroute_to)
                data["rerouted_to"] = row.owner_key
            self._apply(row, action.name, action.target, now)
            row.version += 1
            event = _event(row, now, action.name, before, action.target, principal, note, data)
            event.idempotency_key = idempotency_key
            session.add(event)
            session.add(
                audit.entry(
                    principal, f"report.{action.name}", now,
                    scope=[*self._chain(principal, row), *chain_before], report_id=row.id,
                    detail={"from_state": before, "to_state": action.target, "version": row.version, **data},
                )
            )  # fmt: skip
            session.flush()
            return Acted(_view(row, self.catalog, self._now()), replayed=False)

    def _raced(self, report_id: int, action_name: str, principal: Principal, key: str | None) -> Acted | None:
        """The replay of the step stored under ``key`` by a racing request, if there is one."""
        if key is None:
            return None
        with Session(self.engine) as session:
            row = session.get(Report, report_id)
            first = _event_by_key(session, key)
            if row is None or first is None:
                return None
            return self._replay(row, first, report_id, action_name, principal, key)

    def _replay(
        self,
        row: Report,
        first: ReportEvent,
        report_id: int,
        action_name: str,
        principal: Principal,
        key: str,
    ) -> Acted:
        """The answer to a retried action, or a 409 when the key was used for something else."""
        if (first.actor, first.actor_role, first.actor_unit) != (
            principal.name,
            principal.role,
            principal.unit_key,
        ):
            raise IdempotencyConflictError(
                "this Idempotency-Key was already used by another token; use a new key for each request",
                field="Idempotency-Key",
            )
        if first.report_id != report_id or first.action != action_name:
            raise IdempotencyConflictError(
                f"Idempotency-Key {key!r} was already used to {first.action} report {first.report_id}; "
                f"a retry must repeat that request exactly, a new request needs a new key",
                field="Idempotency-Key",
                used_for={"report_id": first.report_id, "action": first.action},
            )
        require_read(principal, row, report_id)
        return Acted(_view(row, self.catalog, self._now()), replayed=True)

    def _apply(self, row: Report, action: str, target: str, now: dt.datetime) -> None:
        row.state = target
        if action in ("dispatch", "resume"):
            row.dispatched_at = now
            row.due_at = self._due(row.category_code, now)
        elif action == "handle":
            row.handled_at = now
        elif action == "fail_check":
            row.rework_count += 1
            row.handled_at = None
        elif action == "close":
            row.closed_at = now
        elif action == "reopen":
            row.closed_at = None
            row.handled_at = None

    def _reroute(self, row: Report, unit_code: str) -> None:
        if unit_code.startswith("city:"):
            row.owner_key, row.owner_level, row.owner_name = unit_code, "city", unit_code.split(":", 1)[1]
            return
        _, index = self.boundaries.index()
        position = index.units.row_of_code.get(unit_code)
        if position is None:
            raise UnknownUnitError(
                f"unit code {unit_code!r} is not in the active boundary set", code=unit_code
            )
        row.owner_key = unit_code
        row.owner_level = LEVEL_KEYS[int(index.units.ranks[position])]
        row.owner_name = str(index.units.names[position])

    # --- deadlines and escalation ---------------------------------------------------------
    def escalate_overdue(
        self, now: dt.datetime | None = None, actor: Principal | None = None
    ) -> list[dict[str, Any]]:
        """Escalate every overdue case one level up the chain, with the 督办 flag.

        A case escalated stays with its owner, who must still handle it; the unit one
        level further up now supervises it, and a new deadline of the category's limit
        starts, so a case that stalls again climbs again (up to the city).

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
        with Session(self.engine) as session, session.begin():
            rows = session.scalars(
                select(Report)
                .where(Report.state.in_(ESCALATABLE), Report.due_at < now)
                .order_by(Report.id)
                .with_for_update()
            ).all()
            system = SYSTEM
            for row in rows:
                supervisor = _supervisor_after(row, row.escalation_level + 1)
                if row.escalation_level >= self.escalation_max_level or supervisor is None:
                    continue
                row.escalation_level += 1
                row.supervised = True
                row.due_at = self._due(row.category_code, now)
                row.version += 1
                data = {"escalation_level": row.escalation_level, "supervisor": supervisor}
                note = f"overdue: escalated to {supervisor} for supervision (督办)"
                session.add(_event(row, now, "escalate", row.state, row.state, system, note, data))
                escalated.append({"id": row.id, "supervisor": supervisor, "level": row.escalation_level})
                scope += owner_chain(row)
            if actor is not None or escalated:
                who = actor or SYSTEM
                session.add(
                    audit.entry(
                        who, "escalation.run", now, scope=[*self._chain(who), *scope],
                        detail={"escalated": [e["id"] for e in escalated][:1000], "count": len(escalated)},
                    )
                )  # fmt: skip
        return escalated

    def read_rows(self, query: Any, principal: Principal | None, action: str, counted: str) -> list[Any]:
        """Rows of a report ``query``: only the principal's cases when one is given, and
        then the read is audited (``action``, with the row count under ``counted``) in
        the same transaction."""
        if principal is not None:
            require_staff(principal)
            query = query.where(_scope(principal))
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
        """Cases as a DataFrame for metrics (one row per report); only those in the
        principal's scope when one is given."""
        import pandas as pd

        query = select(
            Report.id, Report.owner_key, Report.owner_name, Report.created_at, Report.dispatched_at,
            Report.due_at, Report.handled_at, Report.closed_at, Report.state, Report.rework_count,
        )  # fmt: skip
        rows = self.read_rows(query, principal, "metrics.read", "cases")
        frame = pd.DataFrame(
            rows,
            columns=[
                "report_id", "unit_key", "unit_name", "created_at", "dispatched_at",
                "due_at", "handled_at", "closed_at", "state", "rework_count",
            ],
        )  # fmt: skip
        for column in ("created_at", "dispatched_at", "due_at", "handled_at", "closed_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        # An empty result has object columns; the metrics check dtypes.
        return frame.astype({"report_id": "int64", "rework_count": "int64"})


def reports_geoframe(service: ReportService, principal: Principal | None = None) -> Any:
    """Reports as a GeoDataFrame of WGS84 points for maps (scoped to the principal when given).

    Columns: ``id, category_code, category_name, channel, state, created_at, city_code,
    district_code, subdistrict_code, community_code, owner_key, demand`` (a
    green-space/fitness demand category), geometry.
    """
    import geopandas as gpd
    import pandas as pd

    query = select(
        Report.id, Report.category_code, Report.channel, Report.state, Report.created_at, Report.city_code,
        Report.district_code, Report.subdistrict_code, Report.community_code, Report.owner_key,
        Report.lon, Report.lat,
    )  # fmt: skip
    rows = service.read_rows(query.order_by(Report.id), principal, "maps.read", "reports")
    frame = pd.DataFrame(
        rows,
        columns=[
            "id", "category_code", "channel", "state", "created_at", "city_code", "district_code",
            "subdistrict_code", "community_code", "owner_key", "lon", "lat",
        ],
    )  # fmt: skip
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    names = {c.code: c.name_zh for c in service.catalog}
    demand = {c.code for c in service.catalog.demand_categories()}
    frame["category_name"] = frame["category_code"].map(names)
    frame["demand"] = frame["category_code"].isin(demand)
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)


def _check_idempotency_key(key: str) -> None:
    if not 8 <= len(key) <= 128:
        raise InvalidInputError(
            f"Idempotency-Key must be 8 to 128 characters (got {len(key)})",
            field="Idempotency-Key",
            length=len(key),
        )


def _event_by_key(session: Session, key: str) -> ReportEvent | None:
    event: ReportEvent | None = session.scalar(select(ReportEvent).where(ReportEvent.idempotency_key == key))
    return event


def _supervisor_after(row: Report, level: int) -> str | None:
    """The unit that supervises a case escalated ``level`` times: that many levels up."""
    if row.owner_key.startswith("city:"):
        return None
    rank = LEVEL_KEYS.index(row.owner_level) - level
    if rank < 0:
        return None
    code: str | None = getattr(row, f"{LEVEL_KEYS[rank]}_code")
    return code


def _scope(principal: Principal) -> Any:
    """SQL condition: reports owned by the principal's unit or a unit below it."""
    key = principal.unit_key or ""
    return (
        (Report.owner_key == key)
        | ((Report.city_code == key) & (Report.owner_level != "city"))
        | ((Report.city_code == key) & Report.owner_key.like("city:%"))
        | ((Report.district_code == key) & Report.owner_level.in_(("subdistrict", "community")))
        | ((Report.subdistrict_code == key) & (Report.owner_level == "community"))
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


def _event(
    row: Report,
    at: dt.datetime,
    action: str,
    before: str | None,
    after: str,
    principal: Principal,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> ReportEvent:
    return ReportEvent(
        report_id=row.id,
        at=at,
        action=action,
        from_state=before,
        to_state=after,
        actor=principal.name,
        actor_role=principal.role or principal.kind,
        actor_unit=principal.unit_key,
        note=note,
        data=data or {},
    )


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return _aware(value).astimezone(dt.UTC).isoformat()


def _view(row: Report, catalog: Catalog, now: dt.datetime) -> dict[str, Any]:
    category = catalog.get(row.category_code)
    supervisor = _supervisor_after(row, row.escalation_level) if row.escalation_level else None
    return {
        "id": row.id,
        "created_at": _iso(row.created_at),
        "category": {"code": category.code, "name_zh": category.name_zh, "name_en": category.name_en},
        "description": row.description,
        "photo_urls": list(row.photo_urls or []),
        "address": row.address,
        "channel": row.channel,
        "channel_zh": CHANNELS.get(row.channel, row.channel),
        "location": {"x": row.x, "y": row.y, "crs": row.crs, "lon": row.lon, "lat": row.lat},
        "jurisdiction": {
            "generation_id": row.generation_id,
            "status": row.lookup_status,
            "candidates": list(row.lookup_candidates or []),
            "distance_m": row.distance_m,
            **{f"{level}_code": getattr(row, f"{level}_code") for level in LEVEL_KEYS},
        },
        "owner": {"key": row.owner_key, "level": row.owner_level, "name": row.owner_name},
        "state": row.state,
        "state_zh": STATES[row.state],
        "dispatched_at": _iso(row.dispatched_at),
        "due_at": _iso(row.due_at),
        "handled_at": _iso(row.handled_at),
        "closed_at": _iso(row.closed_at),
        "overdue": bool(row.due_at is not None and row.state in ESCALATABLE and _aware(row.due_at) < now),
        "rework_count": row.rework_count,
        "escalation_level": row.escalation_level,
        "supervised": row.supervised,
        "supervisor": supervisor,
        "duplicate_of": row.duplicate_of,
        "version": row.version,
    }


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes; siji stores every time in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _event_view(event: ReportEvent) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "action": event.action,
        "action_zh": ACTIONS[event.action].label_zh if event.action in ACTIONS else event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "actor_unit": event.actor_unit,
        "note": event.note,
        "data": dict(event.data or {}),
    }
