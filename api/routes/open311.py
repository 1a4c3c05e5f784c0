"""Open311 GeoReport v2 at ``/open311/v2`` (http://wiki.open311.org/GeoReport_v2).

The catalog's categories are the services; a posted request is a report of channel
``app``, routed and handled like any other.  Every route answers in the format its
path ends with (``.json`` or ``.xml``), errors included: GeoReport v2 errors are a list
of ``{code, description}`` (``<errors><error>...`` in XML) with the HTTP status, and
input errors are 400 as the spec's clients expect (the native API's 422).  The routes
use :class:`Open311Route`, which renders errors this way, so the native API's error
format is unchanged everywhere else.

Choices where the spec leaves room, or where siji differs:

* ``lat``/``long`` are WGS84 as the spec says; a request may add ``crs`` (not in the
  spec), e.g. ``gcj02`` for phones on Chinese map SDKs.  siji does not geocode, so
  ``lat``/``long`` are required and ``address_string`` is stored as text only; siji
  also requires a ``description`` (the spec makes it optional).
* An unknown ``service_code`` in a posted request is a 400 (a bad field of the body),
  an unknown one in the path of a service definition a 404 (no such resource).
* ``service_request_id`` values are strings (report ids).
* Times are written as ISO 8601 in Asia/Shanghai (+08:00).  The listing's
  ``start_date``/``end_date`` are RFC 3339 date-times with an offset, or plain dates
  meaning Tai'an days; a window is at most 90 days, the last 90 by default.
* ``GET requests`` is public: no contact and no token are ever shown, and phone and
  ID numbers, e-mail addresses and licence plates in descriptions and addresses are
  redacted (:mod:`routing.redact`).
* ``api_key``: when ``settings.open311_api_keys`` is set, the key must be one of them;
  when it is empty, any key is accepted in development only, and none in test or
  production, so no default secret ever works there (the server logs its mode at start).
* A replayed ``POST requests`` (the same ``Idempotency-Key`` and form) answers 200 with
  ``Idempotent-Replayed: true``; the key with another form is a 400.
* The reporter token of the native API is the Open311 ``token``: ``GET tokens/{token}``
  gives the request id, and the native API reads the full report with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import status_for
from api.open311_format import (
    FORMATS,
    LOCAL_TIMEZONE,
    Format,
    Open311ErrorList,
    RequestCreated,
    RequestCreatedList,
    ServiceDefinition,
    ServiceList,
    ServiceRequestList,
    TokenRequest,
    TokenRequestList,
    error_response,
    render,
    service,
    service_notice,
    service_request,
    xml_example,
)
from api.schemas.common import RFC3339, ErrorResponse
from api.settings import Settings
from geo.errors import InvalidInputError, NotFoundError, SijiError
from geo.locate import locate_point
from routing.intake import ReportIn
from routing.public import MAX_ROWS, public_reports, report_ids_for_token
from routing.service import ReportService
from routing.workflow import ForbiddenError

PREFIX = "/open311/v2"
DEFAULT_WINDOW = dt.timedelta(days=90)
"""The listing's default and widest date range (GeoReport v2)."""
MAX_ID = 2**31 - 1
KEY_ENVIRONMENTS = ("development",)
"""Where a server with no api_key configured accepts any key; elsewhere it accepts none."""

_ATTRIBUTE_KEY = re.compile(r"attribute\[([A-Za-z0-9_.:-]{1,100})\](\[\])?")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ATTRIBUTES = 100


class Open311Route(APIRoute):
    """A route whose errors are GeoReport v2 errors in the format of the path.

    Domain errors map as in :mod:`api.errors`, except that input errors (and request
    validation errors) are 400; an unknown ``{format}`` is a 404 listing json and xml.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _validation_error(request, exc)
            except SijiError as exc:
                status = status_for(exc)
                return error_response(_format_of(request), 400 if status == 422 else status, [exc.message])
            except StarletteHTTPException as exc:
                return error_response(
                    _format_of(request), exc.status_code, [str(exc.detail)], getattr(exc, "headers", None)
                )

        return handle


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)


def _format_of(request: Request) -> str:
    fmt = request.path_params.get("format")
    return fmt if fmt in FORMATS else "json"


def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = exc.errors()
    if any(tuple(p.get("loc", ())) == ("path", "format") for p in problems):
        given = request.path_params.get("format")
        return error_response(
            "json",
            404,
            [f"unknown format {given!r}: the path must end with .json or .xml (allowed: json, xml)"],
        )
    descriptions = []
    for problem in problems:
        where = ".".join(
            str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")
        )
        value = problem.get("input")
        shown = "" if isinstance(value, dict) or value is None else f" (got {_short(value)!r})"
        descriptions.append(f"{where}: {problem.get('msg', 'invalid')}{shown}")
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and not content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        descriptions.insert(
            0,
            "send the fields form-encoded (Content-Type: application/x-www-form-urlencoded), as GeoReport "
            f"v2 says; got {content_type or 'no content type'!r}",
        )
    return error_response(_format_of(request), 400, descriptions or ["invalid request"])


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _moment(value: Any) -> Any:
    """Parse an RFC 3339 date-time (with its offset) or a date, and nothing else.

    pydantic alone would also take numbers as Unix times and times without an offset;
    the documented formats are ``date-time`` and ``date``, so anything else is a 400.
    """
    if isinstance(value, str) and _FULL_DATE.fullmatch(value):
        return dt.date.fromisoformat(value)
    if isinstance(value, str) and RFC3339.fullmatch(value):
        return dt.datetime.fromisoformat(value.upper())
    raise ValueError(
        f"{_short(value)!r} is not a date-time with an offset (2025-06-01T08:00:00+08:00) "
        "or a date (2025-06-01)"
    )


def _reports(request: Request) -> ReportService:
    reports: ReportService = request.app.state.reports
    return reports


# --------------------------------------------------------------------------- documentation
def _doc(
    model: type[Any], description: str, root: str, item: str | None, fields: tuple[str, ...]
) -> dict[str, Any]:
    """A documented answer in both media types (the JSON schema comes from ``model``)."""
    return {
        "model": model,
        "description": description,
        "content": {
            "application/xml": {
                "schema": {"type": "string", "description": f"<{root}> with the same fields as the JSON."},
                "example": xml_example(root, item, fields),
            }
        },
    }


def _error_doc(description: str) -> dict[str, Any]:
    return _doc(Open311ErrorList, description, "errors", "error", ("code", "description"))


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error_doc("Invalid input (Open311 convention), naming the field and what is allowed."),
    404: _error_doc("Unknown resource, or a format other than json and xml."),
    # The rate limiter answers before the route, in this format (api/ratelimit.py).
    429: {
        **_error_doc("Too many requests from this client address or with this token."),
        "headers": {
            "Retry-After": {
                "description": "Seconds until a request is allowed again.",
                "schema": {"type": "integer"},
            }
        },
    },
    # Listing the range also keeps FastAPI from documenting its 422, which these routes never send.
    "4XX": _error_doc("Any other client error of these routes, in the same format."),
}
# Where a new request can be read next (OpenAPI links, so that stateful fuzzing finds real ids).
CREATED_LINKS = {
    "GetServiceRequest": {
        "operationId": "open311_get_request",
        "parameters": {"service_request_id": "$response.body#/0/service_request_id", "format": "json"},
    },
    "GetServiceRequestIdFromToken": {
        "operationId": "open311_get_token",
        "parameters": {"token": "$response.body#/0/token", "format": "json"},
    },
}
FormatPath = Annotated[Format, Path(description="json or xml: the format of the answer (errors included).")]
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
    "expected_datetime", "address", "lat", "long", "media_url",
)  # fmt: skip


# --------------------------------------------------------------------------- services
@router.get(
    "/services.{format}",
    response_model=ServiceList,
    responses={
        200: _doc(ServiceList, "The services.", "services", "service", SERVICE_FIELDS),
        **ERRORS,
    },
    summary="Services (the category catalog)",
    operation_id="open311_list_services",
)
async def list_services(
    request: Request,
    format: FormatPath,
    lat: Annotated[
        float | None, Query(description="With long: only services offered at this point.", examples=[36.19])
    ] = None,
    long: Annotated[
        float | None, Query(description="With lat: only services offered at this point.", examples=[117.13])
    ] = None,
    crs: Annotated[
        str, Query(max_length=64, description="Not in GeoReport v2: the CRS of lat/long (e.g. gcj02).")
    ] = "wgs84",
) -> Response:
    """Every category of the catalog as a service.

    With ``lat`` and ``long``, only the services offered at that point: none outside
    the city, and all of them inside it, because every category is routable anywhere
    in the city (a category owned by a level the boundary set lacks at that point goes
    to the unit above, and city-level categories go to a city department).
    """
    reports = _reports(request)
    if (lat is None) != (long is None):
        raise InvalidInputError("give both lat and long, or neither", field="lat" if lat is None else "long")
    if lat is not None and long is not None and not await run_in_threadpool(_inside, reports, long, lat, crs):
        return render(format, "services", "service", ServiceList([]))
    catalog = reports.catalog
    return render(format, "services", "service", ServiceList([service(c, catalog) for c in catalog]))


def _inside(reports: ReportService, x: float, y: float, crs: str) -> bool:
    """True when the point is in the city (or close enough to snap to it)."""
    _, index = reports.boundaries.index()
    return bool(locate_point(index, x, y, crs)["status"] != "outside")


@router.get(
    "/services/{service_code}.{format}",
    response_model=ServiceDefinition,
    responses={
        200: _doc(
            ServiceDefinition,
            "The service definition.",
            "service_definition",
            None,
            ("service_code", "attributes"),
        ),
        **ERRORS,
    },
    summary="A service definition (no service takes attributes)",
    operation_id="open311_service_definition",
)
async def service_definition(
    request: Request,
    service_code: Annotated[str, Path(max_length=64, description="A service code, e.g. S-04-01.")],
    format: FormatPath,
) -> Response:
    """The attributes of a service: always none (every service has ``metadata`` false)."""
    category = _reports(request).catalog.get(service_code)  # unknown: NotFoundError, 404
    definition = ServiceDefinition(service_code=category.code, attributes=[])
    return render(format, "service_definition", None, definition)


# --------------------------------------------------------------------------- requests
@router.post(
    "/requests.{format}",
    response_model=RequestCreatedList,
    status_code=201,
    responses={
        201: {
            **_doc(
                RequestCreatedList,
                "Created and routed.",
                "service_requests",
                "request",
                ("service_request_id", "service_notice", "account_id", "token"),
            ),
            "links": CREATED_LINKS,
        },
        200: {
            **_doc(
                RequestCreatedList,
                "An Idempotency-Key replay: the first request again.",
                "service_requests",
                "request",
                ("service_request_id", "service_notice", "account_id", "token"),
            ),
            "links": CREATED_LINKS,
        },
        **ERRORS,
        403: _error_doc("api_key is not valid."),
        413: {
            "model": ErrorResponse,
            "description": "The body is over the size limit (native error format).",
        },
    },
    summary="Post a request; it is routed to the owning unit",
    operation_id="open311_create_request",
)
async def create_request(
    request: Request,
    format: FormatPath,
    # The examples make one valid request (a point in 泰山区), for the docs and for fuzzers.
    api_key: Annotated[
        str, Form(min_length=1, max_length=200, description="A key issued to your app.", examples=["demo"])
    ],
    service_code: Annotated[
        str,
        Form(min_length=1, max_length=64, description="A service code, e.g. S-04-01.", examples=["S-04-01"]),
    ],
    lat: Annotated[float, Form(description="Latitude, WGS84 (or in crs).", examples=[36.19])],
    long: Annotated[float, Form(description="Longitude, WGS84 (or in crs).", examples=[117.13])],
    description: Annotated[
        str,
        Form(
            min_length=1,
            max_length=4000,
            description="The problem; required by siji.",
            examples=["人行道上有人摆摊"],
        ),
    ],
    crs: Annotated[
        str,
        Form(max_length=64, description="Not in GeoReport v2: the CRS of lat/long, e.g. gcj02 for phones."),
    ] = "wgs84",
    address_string: Annotated[str, Form(max_length=500, description="Stored as text; not geocoded.")] = "",
    # These four caps keep the joined contact within the 200 characters the report stores.
    email: Annotated[str, Form(max_length=80)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    first_name: Annotated[str, Form(max_length=40)] = "",
    last_name: Annotated[str, Form(max_length=40)] = "",
    media_url: Annotated[str, Form(max_length=2000, description="An http(s) URL of a photo.")] = "",
    device_id: Annotated[str, Form(max_length=200, description="Accepted and ignored.")] = "",
    account_id: Annotated[str, Form(max_length=200, description="Accepted and ignored.")] = "",
    idempotency_key: Annotated[
        str | None,
        Header(max_length=128, description="8 to 128 characters; a retry with it returns the first request."),
    ] = None,
) -> Response:
    """Create a request, form-encoded (``application/x-www-form-urlencoded``) as the spec says.

    ``email``, ``phone``, ``first_name`` and ``last_name`` become the report's contact,
    which only staff and the reporter (with the returned ``token``) can read.
    ``attribute[CODE]=value`` and ``attribute[CODE][]=value`` are accepted and ignored,
    since no service defines attributes; any other key starting with ``attribute`` is a
    400.  Unknown keys (``jurisdiction_id``, ``address_id``, ...) are ignored.
    """
    _check_api_key(request.app.state.settings, api_key)
    _check_attributes(await request.form())
    texts = {
        "description": description,
        "address_string": address_string,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "last_name": last_name,
        "media_url": media_url,
        "service_code": service_code,
        "crs": crs,
        # accepted and otherwise ignored, but held to the same plain-text rule
        "device_id": device_id,
        "account_id": account_id,
    }
    # PostgreSQL text cannot hold NUL and XML 1.0 cannot carry control characters: refuse
    # them here rather than store what the XML listing would have to mangle.
    for name, text in texts.items():
        if _CONTROL.search(text):
            raise InvalidInputError(f"{name} contains control characters; send plain text", field=name)
    name = " ".join(part for part in (first_name.strip(), last_name.strip()) if part)
    contact = "; ".join(part for part in (name, phone.strip(), email.strip()) if part)
    report = ReportIn(
        x=long,
        y=lat,
        crs=crs,
        category=service_code,
        description=description,
        channel="app",
        photo_urls=(media_url.strip(),) if media_url.strip() else (),
        address=address_string,
        contact=contact,
    )
    reports = _reports(request)
    submitted = await run_in_threadpool(reports.submit, report, idempotency_key)
    view = submitted.report
    category = reports.catalog.get(view["category"]["code"])
    created = RequestCreated(
        service_request_id=str(view["id"]),
        service_notice=service_notice(category, view["owner"]["name"], view["duplicate_of"]),
        account_id=None,
        token=submitted.reporter_token,
    )
    answer = render(format, "service_requests", "request", RequestCreatedList([created]), 201)
    if not submitted.created:
        answer.status_code = 200
        answer.headers["Idempotent-Replayed"] = "true"
    return answer


def _check_api_key(settings: Settings, api_key: str) -> None:
    """Accept a configured key; with none configured, any key in development only.

    Keys are compared as SHA-256 digests with :func:`hmac.compare_digest`, against every
    configured key, so the time taken says nothing about a key's length or prefix.
    """
    keys = settings.open311_api_keys
    if keys:
        given = _digest(api_key)
        matched = False
        for key in keys:
            matched |= hmac.compare_digest(given, _digest(key))
        if matched:
            return
    elif settings.environment in KEY_ENVIRONMENTS:
        return
    raise ForbiddenError("Invalid api_key received -- can't proceed with create_request.")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _check_attributes(form: Any) -> None:
    """Raise for malformed ``attribute`` keys; well-formed ones are ignored (none are defined)."""
    keys = [key for key in form if key == "attribute" or key.startswith("attribute[")]
    if len(keys) > MAX_ATTRIBUTES:
        raise InvalidInputError(
            f"{len(keys)} attribute keys; at most {MAX_ATTRIBUTES} are allowed", field="attribute"
        )
    for key in keys:
        if not _ATTRIBUTE_KEY.fullmatch(key):
            raise InvalidInputError(
                f"malformed attribute key {_short(key)!r}; use attribute[CODE]=value, or "
                "attribute[CODE][]=value for a list (CODE: letters, digits, _ . : -)",
                field="attribute",
                value=_short(key),
            )


@router.get(
    "/requests.{format}",
    response_model=ServiceRequestList,
    responses={
        200: _doc(
            ServiceRequestList, "Requests, newest first.", "service_requests", "request", REQUEST_FIELDS
        ),
        **ERRORS,
    },
    summary="Requests (public: no personal data)",
    operation_id="open311_list_requests",
)
async def list_requests(
    request: Request,
    format: FormatPath,
    service_request_id: Annotated[
        str | None,
        Query(
            max_length=700,
            pattern=r"^\s*[0-9]{1,10}\s*(,\s*[0-9]{1,10}\s*)*$",
            description="Comma-separated ids; when given, every other filter is ignored (spec).",
        ),
    ] = None,
    service_code: Annotated[str | None, Query(max_length=400, description="Comma-separated codes.")] = None,
    start_date: Annotated[
        dt.datetime | dt.date | None,
        BeforeValidator(_moment),
        Query(description="Earliest requested_datetime: a date-time with an offset, or a date (Tai'an)."),
    ] = None,
    end_date: Annotated[
        dt.datetime | dt.date | None,
        BeforeValidator(_moment),
        Query(description="Latest requested_datetime, at most 90 days after start_date; a date is its end."),
    ] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed, or open,closed.")] = None,
) -> Response:
    """Requests matching the filters, newest first, at most 1,000.

    Without dates the window is the last 90 days; with one date it is the 90 days
    after ``start_date`` or before ``end_date``; a window longer than 90 days is a 400.
    Dates are RFC 3339 date-times with an offset (``2025-06-01T08:00:00+08:00``, ``...Z``)
    or plain dates, which mean Tai'an days: ``start_date`` from the start of the day,
    ``end_date`` to its end.
    ``status`` is ``closed`` for cases closed (结案) or invalid (作废), else ``open``;
    ``status_notes`` names the state in Chinese.
    """
    reports = _reports(request)
    catalog = reports.catalog
    if service_request_id is not None:
        ids = _ids(service_request_id)
        rows = await run_in_threadpool(lambda: public_reports(reports.engine, ids=ids))
    else:
        codes = None if service_code is None else [_code(reports, c) for c in _split(service_code, "code")]
        closed = None if status is None else _closed(status)
        start, end = _window(start_date, end_date)
        rows = await run_in_threadpool(
            lambda: public_reports(
                reports.engine, category_codes=codes, closed=closed, start=start, end=end, limit=MAX_ROWS
            )
        )
    base = str(request.base_url).rstrip("/")
    payload = ServiceRequestList([service_request(r, catalog, base) for r in rows])
    return render(format, "service_requests", "request", payload)


def _split(text: str, what: str) -> list[str]:
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise InvalidInputError(f"empty {what} in {_short(text)!r}; give a comma-separated list", value=text)
    return parts


def _ids(text: str) -> list[int]:
    ids = []
    for part in _split(text, "service_request_id"):
        # the length test first: int() of thousands of digits is slow, and refused past 4,300
        if len(part) > 10 or not part.isascii() or not part.isdigit() or not 1 <= int(part) <= MAX_ID:
            raise InvalidInputError(
                f"service_request_id {_short(part)!r} is not a request id (a positive whole number)",
                field="service_request_id",
                value=_short(part),
            )
        ids.append(int(part))
    if len(ids) > MAX_ROWS:
        raise InvalidInputError(f"{len(ids)} ids; at most {MAX_ROWS} are allowed", field="service_request_id")
    return ids


def _code(reports: ReportService, code: str) -> str:
    try:
        return reports.catalog.get(code).code
    except NotFoundError as exc:  # a bad filter value is a bad request, not a missing resource
        raise InvalidInputError(exc.message, field="service_code", value=code) from exc


def _closed(text: str) -> bool | None:
    wanted = set(_split(text, "status"))
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise InvalidInputError(
            f"unknown status {_short(sorted(unknown)[0])!r}; allowed: open, closed", field="status"
        )
    return None if len(wanted) == 2 else "closed" in wanted


def _window(
    start: dt.datetime | dt.date | None, end: dt.datetime | dt.date | None
) -> tuple[dt.datetime, dt.datetime]:
    """The date range of a listing, in UTC: at most 90 days, by default the last 90."""
    try:
        return _checked_window(_local(start, 0), _local(end, 1))
    except OverflowError as exc:  # a window reaching past year 9999 (or before year 1)
        raise InvalidInputError(
            "start_date/end_date out of range: the window must lie between the years 1 and 9999",
            field="start_date",
        ) from exc


def _checked_window(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    if start is None and end is None:
        end = dt.datetime.now(dt.UTC)
        start = end - DEFAULT_WINDOW
    elif start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW
    elif end is None:
        end = start + DEFAULT_WINDOW
    if start > end:
        raise InvalidInputError(
            f"start_date {start.isoformat()} is after end_date {end.isoformat()}", field="start_date"
        )
    if end - start > DEFAULT_WINDOW:
        raise InvalidInputError(
            f"start_date {start.isoformat()} to end_date {end.isoformat()} spans more than 90 days; "
            "GeoReport v2 allows at most 90",
            field="end_date",
        )
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _local(moment: dt.datetime | dt.date | None, days_after: int) -> dt.datetime | None:
    # A plain date is a Tai'an day, as a user there means it; an end date includes its day.
    if moment is None or isinstance(moment, dt.datetime):
        return moment
    return dt.datetime.combine(moment + dt.timedelta(days=days_after), dt.time(), LOCAL_TIMEZONE)


@router.get(
    "/requests/{service_request_id}.{format}",
    response_model=ServiceRequestList,
    responses={
        200: _doc(
            ServiceRequestList, "The request, in a list.", "service_requests", "request", REQUEST_FIELDS
        ),
        **ERRORS,
    },
    summary="One request (public: no personal data)",
    operation_id="open311_get_request",
)
async def get_request(
    request: Request,
    service_request_id: Annotated[int, Path(ge=1, le=MAX_ID, description="A request id.")],
    format: FormatPath,
) -> Response:
    """One request, as a list of one (GeoReport v2)."""
    reports = _reports(request)
    rows = await run_in_threadpool(lambda: public_reports(reports.engine, ids=[service_request_id]))
    if not rows:
        raise NotFoundError(
            f"service request {service_request_id} does not exist", service_request_id=service_request_id
        )
    return render(
        format,
        "service_requests",
        "request",
        ServiceRequestList([service_request(rows[0], reports.catalog, str(request.base_url).rstrip("/"))]),
    )


@router.get(
    "/tokens/{token}.{format}",
    response_model=TokenRequestList,
    responses={
        200: _doc(
            TokenRequestList,
            "The request filed with the token.",
            "service_requests",
            "request",
            ("service_request_id", "token"),
        ),
        **ERRORS,
    },
    summary="The request id of a token",
    operation_id="open311_get_token",
)
async def get_token(
    request: Request,
    token: Annotated[str, Path(min_length=1, max_length=200, description="The token from POST requests.")],
    format: FormatPath,
) -> Response:
    """The id of the request a token was returned for."""
    reports = _reports(request)
    ids = await run_in_threadpool(report_ids_for_token, reports.engine, token)
    if not ids:
        raise NotFoundError("no service request has this token")
    payload = TokenRequestList([TokenRequest(service_request_id=str(i), token=token) for i in ids])
    return render(format, "service_requests", "request", payload)


@router.api_route(
    "/requests.{format}",
    methods=["DELETE", "HEAD", "OPTIONS", "PATCH", "PUT"],
    include_in_schema=False,
)
async def requests_other_methods() -> Response:
    """405 naming both methods: GET and POST are two routes, and Starlette's 405 names only one."""
    raise StarletteHTTPException(405, "Method Not Allowed", headers={"Allow": "GET, POST"})


@router.get("/{path:path}", include_in_schema=False)
async def unknown_path(path: str) -> Response:
    """Any other GET under the prefix: a 404 that lists the endpoints."""
    raise NotFoundError(
        f"no Open311 endpoint at {PREFIX}/{_short(path)}; endpoints: services.{{format}}, "
        "services/{service_code}.{format}, requests.{format}, requests/{service_request_id}.{format}, "
        "tokens/{token}.{format}, with format json or xml"
    )
