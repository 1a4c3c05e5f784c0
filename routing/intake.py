"""Intake: a new report checked, its point resolved once, routed to a desk and stored.

:class:`ReportIn` is the report as a client sends it (any channel: the native API,
Open311, the command line); :func:`resolve_point` resolves its point once — the CRS
parsed, the coordinates checked and converted to WGS84 — and the :class:`ReportPoint`
is carried along (looked up, stored as given and in WGS84, used for duplicates)
instead of being parsed or converted again.  :func:`submit` routes the report to the
desk its category names (:meth:`routing.desks.Desks.route`), links a likely
duplicate, stores its photos (checked and re-encoded by :mod:`routing.photos`, staged
and published by :mod:`store.media` around the transaction), writes the event that
tells its desk (:mod:`routing.outbox`), and answers a retry with the same
``Idempotency-Key`` with the first report (:mod:`routing.idempotency`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyproj import Geod
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.coords import point_usable
from geo.crs import CRS, parse_crs, point_to_wgs84
from geo.errors import InvalidInputError, NotFoundError
from geo.index import JurisdictionIndex
from geo.levels import LEVEL_KEYS
from geo.locate import point_answer
from routing import outbox
from routing.access import Principal, hash_token
from routing.catalog import Category
from routing.desks import Desk, Desks, default_departments
from routing.effects import add_photos, set_owner
from routing.idempotency import check_key, check_replay, fingerprint
from routing.photos import PreparedPhoto
from routing.steps import event
from routing.views import ReportView, report_view
from routing.workflow import CHANNELS, OPEN_STATES
from store.models import Report

if TYPE_CHECKING:
    from routing.service import ReportService

__all__ = ["CHANNELS", "ReportIn", "ReportPoint", "Submitted", "locate", "resolve_point", "route", "submit"]

_GEOD = Geod(ellps="WGS84")

MAX_DESCRIPTION = 4000
MAX_PHOTOS = 9


@dataclass(frozen=True, slots=True)
class ReportIn:
    """A new report as a client submits it."""

    x: float
    y: float
    category: str
    description: str
    channel: str
    crs: str = "wgs84"
    photo_urls: tuple[str, ...] = field(default_factory=tuple)
    address: str = ""
    contact: str = ""
    photos: tuple[PreparedPhoto, ...] = ()

    def checked(self) -> ReportIn:
        """Raise :class:`InvalidInputError` naming the field for anything out of bounds."""
        if self.channel not in CHANNELS:
            raise InvalidInputError(
                f"unknown channel {self.channel!r}; allowed: {', '.join(CHANNELS)}",
                field="channel",
                value=self.channel,
                allowed=list(CHANNELS),
            )
        if not self.description.strip():
            raise InvalidInputError("description is empty; describe the problem", field="description")
        if len(self.description) > MAX_DESCRIPTION:
            raise InvalidInputError(
                f"description has {len(self.description):,} characters; "
                f"at most {MAX_DESCRIPTION:,} are allowed",
                field="description",
            )
        if len(self.photo_urls) + len(self.photos) > MAX_PHOTOS:
            raise InvalidInputError(
                f"{len(self.photo_urls)} photo URLs and {len(self.photos)} photos; at most {MAX_PHOTOS} "
                "in all are allowed",
                field="photos" if self.photos else "photo_urls",
            )
        for url in self.photo_urls:
            if not url.startswith(("https://", "http://")) or len(url) > 2000:
                raise InvalidInputError(
                    f"photo URL {url[:100]!r} is not an http(s) URL of at most 2,000 characters",
                    field="photo_urls",
                    value=url[:100],
                )
        return self

    def fingerprint(self) -> str:
        """The report's fingerprint, stored with its ``Idempotency-Key`` (photos by the digest
        of their uploaded bytes)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "photos"}
        if self.photos:
            fields["photos"] = [photo.upload_sha256 for photo in self.photos]
        return fingerprint(fields)


def route(category: Category, answer: dict[str, Any]) -> Desk:
    """The desk a report of ``category`` at a located point goes to.

    See :meth:`routing.desks.Desks.route` (the packaged departments).

    Examples
    --------
    >>> from routing.catalog import default_catalog
    >>> answer = {"city": {"code": "C", "name": "泰安市"}, "district": {"code": "D", "name": "泰山区"},
    ...           "subdistrict": {"code": "S", "name": "财源街道"}, "community": None}
    >>> owner = route(default_catalog().get("S-04-04"), answer)
    >>> owner.key, owner.level, owner.note
    ('S', 'subdistrict', 'no community unit covers the point; routed to its subdistrict')
    """
    return Desks(None, default_departments()).route(category, answer)


@dataclass(frozen=True, slots=True)
class Submitted:
    """The outcome of an intake: the report, whether it is new, the reporter's token."""

    report: ReportView
    created: bool
    reporter_token: str


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """A report's point, resolved once: as given, its parsed CRS, and in WGS84.

    ``lon``/``lat`` are None when the coordinates are unusable in their CRS (the
    lookup then says why).
    """

    x: float
    y: float
    crs: str
    parsed: CRS
    lon: float | None
    lat: float | None


def resolve_point(x: float, y: float, crs: str) -> ReportPoint:
    """Parse ``crs``, check the coordinates and convert them to WGS84, once.

    Raises
    ------
    UnknownCRSError
        A CRS that siji does not know, naming the allowed forms.

    Examples
    --------
    >>> point = resolve_point(117.1355, 36.1923, "gcj02")
    >>> point.crs, round(point.lon, 3), round(point.lat, 3)
    ('gcj02', 117.129, 36.192)
    >>> resolve_point(float("nan"), 36.19, "wgs84").lon is None
    True
    """
    parsed = parse_crs(crs)
    x, y = float(x), float(y)
    if not point_usable(x, y, parsed):
        return ReportPoint(x, y, crs, parsed, None, None)
    lon, lat = point_to_wgs84(x, y, parsed)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return ReportPoint(x, y, crs, parsed, None, None)
    return ReportPoint(x, y, crs, parsed, lon, lat)


def locate(index: JurisdictionIndex, point: ReportPoint) -> dict[str, Any]:
    """The lookup answer of a resolved point (:func:`geo.locate.locate_point`'s, without
    parsing or converting it again when a unit covers it).

    Raises
    ------
    InvalidCoordinateError, SwappedAxesError
        As :func:`geo.locate.locate_point`.
    """
    found = None if point.lon is None or point.lat is None else index.resolve_one(point.lon, point.lat)
    return point_answer(index, found, point.x, point.y, point.parsed)


def submit(service: ReportService, report: ReportIn, idempotency_key: str | None = None) -> Submitted:
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
        category = service.catalog.get(report.category)
    except NotFoundError as exc:
        raise InvalidInputError(exc.message, field="category", value=report.category) from exc
    payload = report.fingerprint()
    if idempotency_key is not None:
        check_key(idempotency_key)
        existing = _by_idempotency_key(service, idempotency_key, payload)
        if existing is not None:
            return Submitted(existing, False, _reporter_token(service, idempotency_key))
    generation, index = service.boundaries.index()
    point = resolve_point(report.x, report.y, report.crs)
    answer = locate(index, point)
    if answer["status"] == "outside":
        raise InvalidInputError(
            f"the point ({report.x}, {report.y}) in {report.crs} is outside the city's boundary set and "
            f"more than {index.snap_distance_m:g} m from it; reports are accepted inside the city only",
            field="location",
            status="outside",
        )
    # a located point has a WGS84 position (an unusable one was refused by the lookup)
    assert point.lon is not None
    assert point.lat is not None
    desk = Desks(index, service.departments).route(category, answer)
    token = (
        _reporter_token(service, idempotency_key) if idempotency_key else "rp_" + secrets.token_urlsafe(32)
    )
    now = service.now()
    row = Report(
        created_at=now,
        category_code=category.code,
        description=report.description,
        photo_urls=list(report.photo_urls),
        address=report.address,
        reporter_contact=report.contact,
        reporter_token_hash=hash_token(token),
        channel=report.channel,
        x=point.x,
        y=point.y,
        crs=point.crs,
        lon=point.lon,
        lat=point.lat,
        generation_id=generation.id,
        lookup_status=answer["status"],
        lookup_candidates=[c["code"] for c in answer.get("candidates", [])],
        distance_m=answer.get("distance_m"),
        state="reported",
        rework_count=0,
        reopen_count=0,
        escalation_level=0,
        urge_count=0,
        idempotency_key=idempotency_key,
        idempotency_fingerprint=payload if idempotency_key else None,
        **{f"{level}_code": (answer[level] or {}).get("code") for level in LEVEL_KEYS},
    )
    owner = set_owner(row, desk)
    staged = service.media.stage(report.photos)
    try:
        with Session(service.engine) as session, session.begin():
            row.duplicate_of = _duplicate_of(service, session, category.code, point)
            session.add(row)
            session.flush()
            note = "; ".join(n for n in (desk.note, _lookup_note(answer)) if n)
            channel = Principal("anonymous", name=report.channel)
            data: dict[str, Any] = {"owner": owner["owner"]}
            if report.photos:
                add_photos(row, report.photos, "report", now)
                data["photos"] = [photo.name for photo in report.photos]
            intake_event = event(row, now, "report", None, "reported", channel, note, data)
            session.add(intake_event)
            session.flush()
            outbox.publish(session, row, intake_event, service.catalog)
            session.flush()
            view = report_view(row, service.catalog, service.now(), staff=False)
    except IntegrityError:
        service.media.discard(staged)
        # Two retries raced: the other one stored the report first.
        if idempotency_key is None:
            raise
        existing = _by_idempotency_key(service, idempotency_key, payload)
        if existing is None:
            raise
        return Submitted(existing, False, token)
    except BaseException:
        service.media.discard(staged)
        raise
    service.media.publish(staged)
    return Submitted(view, True, token)


def _reporter_token(service: ReportService, idempotency_key: str) -> str:
    """The reporter token of a keyed intake: derived from the key, so a retry gets it again."""
    digest = hmac.new(service.secret, b"reporter:" + idempotency_key.encode(), hashlib.sha256).hexdigest()
    return "rp_" + digest


def _by_idempotency_key(service: ReportService, key: str, payload: str) -> ReportView | None:
    with Session(service.engine) as session:
        row = session.scalar(select(Report).where(Report.idempotency_key == key))
        if row is None:
            return None
        check_replay(key, row.idempotency_fingerprint, payload, f"for report {row.id}")
        return report_view(row, service.catalog, service.now(), staff=False)


def _duplicate_of(service: ReportService, session: Session, category: str, point: ReportPoint) -> int | None:
    """The earliest open report of the same category within the duplicate distance."""
    lon, lat = point.lon, point.lat
    assert lon is not None
    assert lat is not None
    pad = service.duplicate_distance_m / 80_000.0  # degrees; generous at Tai'an's latitude
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
        if _GEOD.inv(lon, lat, other_lon, other_lat)[2] <= service.duplicate_distance_m:
            return int(report_id)
    return None


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
