"""Reading cases: one case with its history, a page of cases, rows for the exports — all scoped.

Every read goes through the scope the case stores (:class:`store.models.ReportScope`,
the rule of :mod:`routing.access`): :func:`get` and :func:`list_reports` return the
cases the caller's unit reads (owned by its chain now, owned earlier, or asked of it),
:func:`read_rows` by default only those its chain owns now (what its figures count).
Staff reads are audited in the same transaction; a refused read is recorded after it
(:meth:`routing.service.ReportService.refused`).  A case's photos are read under the
same rule (:func:`photo_file`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError, NotFoundError
from routing import audit, steps
from routing.access import (
    Principal,
    can_read,
    raise_forbidden,
    require_credentials,
    require_read,
    require_staff,
)
from routing.errors import ForbiddenError
from routing.views import ReportView, event_views, report_view
from routing.workflow import CLOCK_STATES, STATES
from store.models import Photo, Report, ReportEvent, ReportScope

if TYPE_CHECKING:
    from routing.service import ReportService

PENDING_FILTERS = ("extension", "transfer")
READ_SCOPES = ("owner", "earlier", "asked")
"""Scope kinds whose units read a case."""
ACT_SCOPES = ("owner",)
"""Scope kinds whose units act on a case and count it in their figures."""


def in_scope(principal: Principal, kinds: tuple[str, ...]) -> ColumnElement[bool]:
    """SQL condition: reports whose scope of one of ``kinds`` names the principal's unit."""
    return Report.id.in_(
        select(ReportScope.report_id).where(
            ReportScope.unit_key == (principal.unit_key or ""), ReportScope.kind.in_(kinds)
        )
    )


def get(service: ReportService, report_id: int, principal: Principal) -> ReportView:
    """One report with its history and the actions the caller may take, if the caller may read it."""
    require_credentials(principal)
    try:
        return _get(service, report_id, principal)
    except ForbiddenError as error:
        service.refused(principal, "report.read", error, report_id)
        raise


def _get(service: ReportService, report_id: int, principal: Principal) -> ReportView:
    with Session(service.engine) as session, session.begin():
        row = session.get(Report, report_id)
        if row is None:
            if principal.is_staff and principal.unit_key == service.desks().city_code:
                raise NotFoundError(f"report {report_id} does not exist", report_id=report_id)
            raise_forbidden(report_id)
        assert row is not None
        require_read(principal, row, report_id)
        view = report_view(row, service.catalog, service.now(), staff=principal.is_staff)
        events = session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
        ).all()
        view["events"] = event_views(events, principal)
        view["allowed_actions"] = steps.allowed_for(row, principal, service.desks())
        if principal.is_staff:
            # who looked at a case (and its reporter's contact) is audited like an action
            session.add(
                audit.entry(
                    principal, "report.read", service.now(), scope=service.chain(principal, row),
                    report_id=report_id,
                )
            )  # fmt: skip
        return view


def list_reports(
    service: ReportService,
    principal: Principal,
    *,
    state: str | None = None,
    category: str | None = None,
    overdue: bool = False,
    pending: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[ReportView]]:
    """Reports the caller reads, newest first, and how many match in all (see
    :meth:`routing.service.ReportService.list_reports`)."""
    require_staff(principal)
    query = select(Report).where(in_scope(principal, READ_SCOPES))
    if state is not None:
        if state not in STATES:
            raise InvalidInputError(
                f"unknown state {state!r}; allowed: {', '.join(STATES)}", field="state", value=state
            )
        query = query.where(Report.state == state)
    if category is not None:
        query = query.where(Report.category_code == service.catalog.get(category).code)
    if overdue:
        query = query.where(Report.due_at < service.now(), Report.state.in_(CLOCK_STATES))
    if pending is not None:
        if pending not in PENDING_FILTERS:
            raise InvalidInputError(
                f"unknown pending request {pending!r}; allowed: {', '.join(PENDING_FILTERS)}",
                field="pending",
                value=pending,
            )
        column = Report.extension_to if pending == "extension" else Report.transfer_to
        query = query.where(column.is_not(None))
    with Session(service.engine) as session, session.begin():
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Report.id.desc()).limit(limit).offset(offset)).all()
        filters = {"state": state, "category": category, "overdue": overdue or None, "pending": pending}
        session.add(
            audit.entry(
                principal, "reports.list", service.now(), scope=service.chain(principal),
                detail={
                    "filters": {k: v for k, v in filters.items() if v is not None},
                    "limit": limit, "offset": offset, "returned": len(rows), "total": total,
                },
            )
        )  # fmt: skip
        return total, [report_view(r, service.catalog, service.now()) for r in rows]


def read_rows(
    service: ReportService,
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
        query = query.where(in_scope(principal, kinds))
    with Session(service.engine) as session, session.begin():
        rows = list(session.execute(query).all())
        if principal is not None:
            session.add(
                audit.entry(
                    principal,
                    action,
                    service.now(),
                    scope=service.chain(principal),
                    detail={counted: len(rows)},
                )
            )
    return rows


def photo_file(
    service: ReportService, photo_id: int, principal: Principal, thumbnail: bool = False
) -> tuple[Path, str]:
    """The file of a photo (or its thumbnail) and its media type, if the caller may read its case.

    Staff whose unit reads the case and the case's reporter (and followers) may; a read
    of a full photo by staff is audited, a refused read recorded.

    Raises
    ------
    UnauthenticatedError, ForbiddenError
        No credentials; a photo of a case the caller may not read, or no such photo
        (the same 403).
    NotFoundError
        The photo's file is missing from the media directory.
    """
    require_credentials(principal)
    report_id: int | None = None
    try:
        with Session(service.engine) as session, session.begin():
            photo = session.get(Photo, photo_id)
            report_id = None if photo is None else photo.report_id
            report = None if report_id is None else session.get(Report, report_id)
            if photo is None or report is None or not can_read(principal, report):
                raise ForbiddenError(
                    f"photo {photo_id} is not accessible with these credentials", photo_id=photo_id
                )
            name, media_type = photo.name, photo.media_type
            if principal.is_staff and not thumbnail:
                session.add(
                    audit.entry(
                        principal, "photo.read", service.now(), scope=service.chain(principal, report),
                        report_id=report_id, target=f"photo:{photo_id}",
                    )
                )  # fmt: skip
    except ForbiddenError as error:
        service.refused(principal, "photo.read", error, report_id)
        raise
    path = service.media.locate(name, thumbnail)
    if path is None:
        raise NotFoundError(
            f"the file of photo {photo_id} (report {report_id}) is missing from the media directory "
            f"{service.media.root}",
            photo_id=photo_id,
        )
    return path, "image/jpeg" if thumbnail else media_type
