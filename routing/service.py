"""The report service: the rules and the store in one value, and one entry point per use.

:class:`ReportService` is what the HTTP API, Open311 and the command line call.  It
holds the engine, the boundary service and the rules (catalog, calendar,
departments) and hands each use to the module of its concern:

=====================================  =================================================
intake (route, deduplicate, retries)   :mod:`routing.intake`
one case, a page of cases, rows        :mod:`routing.queries` (views: :mod:`routing.views`)
a step of the loop                     :mod:`routing.steps` (table: :mod:`routing.workflow`,
                                       effects: :mod:`routing.effects`)
escalation                             :mod:`routing.escalation`
photos (checked, stored, served)       :mod:`routing.photos`, :mod:`store.media`
events a unit hears of (feed)          :mod:`routing.outbox` (webhooks: :mod:`routing.webhooks`,
                                       :mod:`routing.delivery`)
metrics and map frames                 :mod:`routing.exports`
=====================================  =================================================

Every change is one transaction; a report answered 201 is committed (and, on SQLite,
fsynced) before the answer leaves.  Staff actions and staff reads are written to the
audit log (:mod:`routing.audit`) in the same transaction as the action; refusals are
recorded after it (:meth:`ReportService.refused`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from boundaries.service import BoundaryService
from geo.errors import SijiError
from routing import audit, escalation, exports, intake, outbox, queries, steps
from routing import photos as photo_rules
from routing.access import Principal, owner_chain
from routing.calendar import WorkCalendar, default_calendar
from routing.catalog import Catalog, default_catalog
from routing.desks import Departments, Desks, default_departments
from routing.escalation import SYSTEM, Escalation
from routing.intake import ReportIn, Submitted
from routing.photos import PreparedPhoto
from routing.steps import Acted, StepRequest
from routing.views import ReportView
from routing.workflow import CLOCK_STATES
from store.media import MediaStore
from store.models import Report

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from geo.index import JurisdictionIndex

ESCALATABLE = CLOCK_STATES
"""States in which an overdue case is escalated (the clock runs)."""

__all__ = ["ESCALATABLE", "SYSTEM", "Acted", "ReportService", "Submitted", "reports_geoframe", "utcnow"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReportService:
    """Intake, reading, the loop, escalation and exports over one store and one set of rules.

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
    media : MediaStore, optional
        Where photos are stored (default: ``./media``).
    max_photo_bytes, max_photo_pixels : int
        Caps on one uploaded photo.
    verdict_days : float
        How long after a closure its reporter may give the verdict (回访).
    clock : callable, optional
        The time (tests set it).
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
        media: MediaStore | None = None,
        max_photo_bytes: int = 15 * 1024 * 1024,
        max_photo_pixels: int = 50_000_000,
        verdict_days: float = 7.0,
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
        self.media = media or MediaStore("media")
        self.max_photo_bytes = max_photo_bytes
        self.max_photo_pixels = max_photo_pixels
        self.verdict_window = dt.timedelta(days=verdict_days)
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

    # --- what the concern modules share -------------------------------------------------
    def now(self) -> dt.datetime:
        """The time, in UTC (stored in UTC: SQLite keeps no offset)."""
        now: dt.datetime = self.clock()
        return now.astimezone(dt.UTC)

    def index(self) -> JurisdictionIndex | None:
        """The active index, or None while there is no active generation."""
        try:
            return self.boundaries.index()[1]
        except SijiError:
            return None

    def desks(self) -> Desks:
        """Desk keys resolved against the active boundary set and the departments."""
        return Desks(self.index(), self.departments)

    def chain(self, principal: Principal, *reports: Report) -> list[str]:
        """The audit scope of an action: the caller's unit chain and each report's owner chain."""
        keys = list(self.desks().chain(principal.unit_key))
        for report in reports:
            keys += owner_chain(report)
        return keys

    def refused(self, principal: Principal, action: str, error: SijiError, report_id: int | None) -> None:
        """Record a refusal, for the caller's supervisors and for those of the case's owner."""
        scope = self.chain(principal)
        if report_id is not None:
            with Session(self.engine) as session:
                chain = session.scalar(select(Report.owner_chain).where(Report.id == report_id))
            scope += list(chain or [])
        audit.record_refusal(
            self.engine, principal, action[:64], error, self.now(), scope=scope, report_id=report_id
        )

    def prepare_photo(self, data: bytes, label: str = "photo") -> PreparedPhoto:
        """Check an uploaded photo by decoding it and re-encode it (see :func:`routing.photos.prepare`)."""
        return photo_rules.prepare(
            data, max_bytes=self.max_photo_bytes, max_pixels=self.max_photo_pixels, label=label
        )

    # --- intake -------------------------------------------------------------------------
    def submit(self, report: ReportIn, idempotency_key: str | None = None) -> Submitted:
        """Route and store a new report; a retry with the same key returns the first one
        (see :func:`routing.intake.submit`)."""
        return intake.submit(self, report, idempotency_key)

    # --- reading ------------------------------------------------------------------------
    def get(self, report_id: int, principal: Principal) -> ReportView:
        """One report with its history, if the principal may read it.

        Staff reads are audited; refused reads (staff and reporters) are recorded,
        readable by the supervisors of the case's owner.
        """
        return queries.get(self, report_id, principal)

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
    ) -> tuple[int, list[ReportView]]:
        """Reports the principal may read (owned by their chain, owned earlier, or asked of
        them), newest first; ``pending`` keeps those with a pending ``extension`` or
        ``transfer`` request."""
        return queries.list_reports(
            self, principal, state=state, category=category, overdue=overdue, pending=pending, limit=limit,
            offset=offset,
        )  # fmt: skip

    def photo_file(self, photo_id: int, principal: Principal, thumbnail: bool = False) -> tuple[Path, str]:
        """A photo's file and media type, for staff in scope and the reporter
        (see :func:`routing.queries.photo_file`)."""
        return queries.photo_file(self, photo_id, principal, thumbnail)

    def events(
        self, principal: Principal, after: int = 0, limit: int = 100, types: tuple[str, ...] = ()
    ) -> tuple[list[dict[str, Any]], int]:
        """The events the principal's unit hears of after a cursor, and the next cursor
        (see :func:`routing.outbox.read`)."""
        return outbox.read(self, principal, after, limit, types)

    def audit_log(self, principal: Principal, query: audit.AuditQuery) -> tuple[int, list[dict[str, Any]]]:
        """The audit entries the principal may read (see :func:`routing.audit.read`)."""
        return audit.read(self.engine, principal, query, self.index(), self.now())

    # --- the loop -----------------------------------------------------------------------
    def act(self, report_id: int, action_name: str, principal: Principal, **request: Any) -> ReportView:
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
        category: str | None = None,
        merge_into: int | None = None,
        satisfaction: str | None = None,
        photos: tuple[PreparedPhoto, ...] = (),
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Acted:
        """Take one step of the loop: the new state, its event and its audit entry commit together.

        Parameters
        ----------
        note : str
            The reason or remark; ``public`` makes it a reply the reporter reads.
        reroute_to, transfer_to, extend_to, category, merge_into, satisfaction, photos : optional
            The request fields of ``dispatch``, ``request_transfer``,
            ``request_extension``, ``recategorise``, ``merge``, ``verdict`` and ``handle``
            (see :data:`routing.workflow.ACTIONS`); photos prepared by :meth:`prepare_photo`.
        expected_version : int, optional
            The version the caller read; a case changed since is a 409 ``version_conflict``.
        idempotency_key : str, optional
            8 to 128 characters, stored with the step and its request's fingerprint.  A
            retry with the same key and request takes no second step and returns the
            case with ``replayed=True``; the key with another request is a 422.

        Raises
        ------
        UnauthenticatedError, ForbiddenError
            No credentials; neither staff nor the case's reporter, out of scope, or a role
            or relation that may not take the action.
        UnknownActionError
            No such action (422, listing the actions).
        IllegalTransitionError
            The action is not allowed from the current state (409, naming the actions
            the caller may take); :class:`~routing.errors.VersionConflictError` for a
            stale version.
        IdempotencyConflictError
            The key was used for another request or by another token (422).
        """
        request = StepRequest(
            report_id, action_name, note, public, expected_version, reroute_to, transfer_to, extend_to,
            category, merge_into, satisfaction, tuple(photos),
        )  # fmt: skip
        return steps.act_once(self, request, principal, idempotency_key)

    # --- deadlines and escalation ---------------------------------------------------------
    def escalate_overdue(
        self, now: dt.datetime | None = None, actor: Principal | None = None
    ) -> list[Escalation]:
        """Escalate every overdue case one level up its owner's chain, with the 督办 flag
        (see :mod:`routing.escalation`)."""
        return escalation.escalate_overdue(self, now, actor)

    # --- exports ------------------------------------------------------------------------
    def read_rows(
        self,
        query: Any,
        principal: Principal | None,
        action: str,
        counted: str,
        kinds: tuple[str, ...] = queries.ACT_SCOPES,
    ) -> list[Any]:
        """Rows of a report ``query``, scoped and audited (see :func:`routing.queries.read_rows`)."""
        return queries.read_rows(self, query, principal, action, counted, kinds)

    def cases_frame(self, principal: Principal | None = None) -> Any:
        """Cases as a DataFrame for metrics (see :func:`routing.exports.cases_frame`)."""
        return exports.cases_frame(self, principal)


def reports_geoframe(service: ReportService, principal: Principal | None = None) -> Any:
    """Reports as a GeoDataFrame of WGS84 points for maps (see :func:`routing.exports.reports_geoframe`)."""
    return exports.reports_geoframe(service, principal)
