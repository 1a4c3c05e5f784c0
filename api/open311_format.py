"""Open311 GeoReport v2 shapes: the response models and their JSON and XML rendering.

Every answer is built as a pydantic model first, then written as JSON (``model_dump``)
or as XML from the same dump, so both formats always carry the same fields.  XML is
made with :mod:`xml.etree.ElementTree`, UTF-8, Chinese text as is; characters that
XML 1.0 cannot hold (control characters a client may have sent) are replaced with
U+FFFD so that the document stays well-formed.

See http://wiki.open311.org/GeoReport_v2 for the field meanings.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, RootModel

from routing.catalog import Catalog, Category
from routing.public import PublicReport

Format = Literal["json", "xml"]
FORMATS: tuple[str, ...] = ("json", "xml")
XML_MEDIA_TYPE = "application/xml; charset=utf-8"
LOCAL_TIMEZONE = ZoneInfo("Asia/Shanghai")
"""Times are written in the city's zone (ISO 8601 with the +08:00 offset)."""

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Element name of the items of a list field in XML (GeoReport v2 uses the singular).
_ITEM_TAG = {"attributes": "attribute", "values": "value"}
_UNIT_ZH = {"hours": "小时", "working_hours": "个工作小时", "working_days": "个工作日", "calendar_days": "天"}


# --------------------------------------------------------------------------- models
class Service(BaseModel):
    """One service type: a category of the catalog."""

    service_code: str = Field(description="The category code, e.g. S-04-01.")
    service_name: str = Field(description="The category's Chinese name.")
    description: str = Field(description="English name and the filing condition (立案条件).")
    metadata: bool = Field(description="Always false: no service takes extra attributes.")
    type: Literal["realtime", "batch", "blackbox"] = Field(
        description="Always realtime: a request gets its id at once."
    )
    keywords: str = Field(description="Aliases of the category, comma-separated.")
    group: str = Field(description="The major class (大类) name.")


class ServiceList(RootModel[list[Service]]):
    """The services offered."""


class AttributeValue(BaseModel):
    key: str
    name: str


class ServiceAttribute(BaseModel):
    """An extra field of a service (GeoReport v2); siji's services define none."""

    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None = None
    order: int
    description: str
    values: list[AttributeValue] = Field(default_factory=list)


class ServiceDefinition(BaseModel):
    """The extra fields a service takes: always none here."""

    service_code: str
    attributes: list[ServiceAttribute] = Field(description="Always empty: no service takes attributes.")


class RequestCreated(BaseModel):
    """The answer to a new request."""

    service_request_id: str = Field(description="The report id, as a string.")
    service_notice: str = Field(description="Who handles it and the handling time limit.")
    account_id: str | None = Field(default=None, description="Always null: siji keeps no accounts.")
    token: str = Field(
        description="The reporter token: GET tokens/{token} gives the id back, and it reads the report "
        "with its contact in the native API (Authorization: Bearer). Keep it secret."
    )


class RequestCreatedList(RootModel[list[RequestCreated]]):
    """A list with the one new request (GeoReport v2 answers with a list)."""


class ServiceRequest(BaseModel):
    """A request as anyone may read it: no contact and no token."""

    service_request_id: str
    status: Literal["open", "closed"] = Field(description="closed for the states closed and invalid.")
    status_notes: str = Field(description="The state in the closed loop, in Chinese (e.g. 派遣, 结案).")
    service_name: str
    service_code: str
    description: str
    agency_responsible: str = Field(description="The unit or city department that owns the case.")
    service_notice: str
    requested_datetime: dt.datetime
    updated_datetime: dt.datetime = Field(description="The time of the latest step of the loop.")
    expected_datetime: dt.datetime | None = Field(
        description="The handling deadline; null until the case is dispatched."
    )
    address: str
    lat: float = Field(description="WGS84.")
    long: float = Field(description="WGS84.")
    media_url: str | None = Field(
        description="The report's first photo: a stored one (served by /v1/photos/{id} to staff in scope "
        "and to the reporter only), else the URL the reporter gave, if any."
    )


class ServiceRequestList(RootModel[list[ServiceRequest]]):
    """Requests, newest first."""


class TokenRequest(BaseModel):
    service_request_id: str
    token: str


class TokenRequestList(RootModel[list[TokenRequest]]):
    """The request(s) filed with a token."""


class Open311Error(BaseModel):
    code: int = Field(description="The HTTP status.")
    description: str = Field(description="What was wrong, naming the value and what is allowed.")


class Open311ErrorList(RootModel[list[Open311Error]]):
    """Every Open311 error answer has this shape (GeoReport v2)."""


# --------------------------------------------------------------------------- building
def time_limit_zh(category: Category) -> str:
    """The category's handling time limit in Chinese, e.g. ``2个工作小时``."""
    limit = category.time_limit
    return f"{limit.amount:g}{_UNIT_ZH.get(limit.unit, limit.unit)}"


def service_notice(category: Category, owner_name: str, duplicate_of: int | None = None) -> str:
    """Who handles a request and how long they have (the deadline runs from dispatch)."""
    notice = f"由{owner_name}处置，处置时限为派遣后{time_limit_zh(category)}"
    if duplicate_of is not None:
        notice += f"；与第{duplicate_of}号诉求位置相近、类别相同，可能重复"
    return notice


def service(category: Category, catalog: Catalog) -> Service:
    """A category as an Open311 service."""
    return Service(
        service_code=category.code,
        service_name=category.name_zh,
        description=f"{category.name_en}. 立案条件：{category.filing}",
        metadata=False,
        type="realtime",
        keywords=",".join(category.aliases),
        group=catalog.major(category.major).name_zh,
    )


def service_request(report: PublicReport, catalog: Catalog, base_url: str = "") -> ServiceRequest:
    """A public report as an Open311 request; ``base_url`` (``https://host``) makes ``media_url`` absolute.

    A report of a category that a later catalog dropped is still listed, under its code.
    """
    category = catalog.get(report.category_code) if report.category_code in catalog else None
    return ServiceRequest(
        service_request_id=str(report.id),
        status="closed" if report.closed else "open",
        status_notes=report.state_zh,
        service_name=category.name_zh if category else report.category_code,
        service_code=category.code if category else report.category_code,
        description=report.description,
        agency_responsible=report.owner_name,
        service_notice=(
            service_notice(category, report.owner_name, report.duplicate_of)
            if category
            else f"由{report.owner_name}处置"
        ),
        requested_datetime=local_time(report.created_at),
        updated_datetime=local_time(report.updated_at),
        expected_datetime=None if report.due_at is None else local_time(report.due_at),
        address=report.address,
        lat=report.lat,
        long=report.lon,
        media_url=(
            f"{base_url}/v1/photos/{report.photo_ids[0]}"
            if report.photo_ids
            else (report.photo_urls[0] if report.photo_urls else None)
        ),
    )


def local_time(moment: dt.datetime) -> dt.datetime:
    """An aware time in the city's zone, to the second."""
    return moment.astimezone(LOCAL_TIMEZONE).replace(microsecond=0)


# --------------------------------------------------------------------------- rendering
def render(fmt: str, root: str, item: str | None, payload: BaseModel, status_code: int = 200) -> Response:
    """Write a model as JSON, or as XML under ``<root>`` (``<item>`` per list element).

    Parameters
    ----------
    fmt : str
        ``json`` or ``xml``.
    root : str
        The XML root element, e.g. ``services``.
    item : str or None
        The element of each list item, e.g. ``service``; None for a single object.
    payload : BaseModel
        A model (a ``RootModel`` of a list for listings).
    status_code : int
    """
    data = payload.model_dump(mode="json")
    if fmt == "xml":
        return Response(to_xml(root, item, data), status_code=status_code, media_type=XML_MEDIA_TYPE)
    return JSONResponse(data, status_code=status_code)


def error_response(
    fmt: str, status_code: int, descriptions: Iterable[str], headers: dict[str, str] | None = None
) -> Response:
    """The GeoReport v2 error answer: ``[{code, description}, ...]`` or ``<errors>``."""
    payload = Open311ErrorList([Open311Error(code=status_code, description=d) for d in descriptions])
    response = render(fmt if fmt in FORMATS else "json", "errors", "error", payload, status_code)
    if headers:
        response.headers.update(headers)
    return response


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """A JSON-ready value as an XML document (UTF-8, with the declaration).

    Examples
    --------
    >>> print(to_xml("errors", "error", [{"code": 404, "description": "没有"}]).decode())
    <?xml version='1.0' encoding='utf-8'?>
    <errors><error><code>404</code><description>没有</description></error></errors>
    """
    if item is None:
        element = _element(root, data)
    else:
        element = ET.Element(root)
        element.extend(_element(item, entry) for entry in data)
    return bytes(ET.tostring(element, encoding="utf-8", xml_declaration=True))


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        element.extend(_element(key, child) for key, child in value.items())
    elif isinstance(value, list):
        element.extend(_element(_ITEM_TAG.get(tag, "item"), child) for child in value)
    elif isinstance(value, bool):  # before int: bool is an int, and XML wants true/false
        element.text = "true" if value else "false"
    elif value is not None:  # None stays an empty element, so every field is present
        element.text = _NOT_XML.sub("\ufffd", str(value))
    return element


def xml_example(root: str, item: str | None, fields: Sequence[str]) -> str:
    """A short XML example for the OpenAPI documentation."""
    inner = "".join(f"<{name}>...</{name}>" for name in fields)
    body = f"<{item}>{inner}</{item}>" if item else inner
    return f"<?xml version='1.0' encoding='utf-8'?>\n<{root}>{body}</{root}>"
