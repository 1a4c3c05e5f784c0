"""Open311 GeoReport v2 at /open311/v2: services, requests, tokens, the loop's status, errors, keys."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from routing.staff import issue

V2 = "/open311/v2"
INSIDE = {"lat": 36.19, "long": 117.13}  # 泰山区
OUTSIDE = {"lat": 30.0, "long": 117.13}  # far south of Tai'an
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
    "expected_datetime", "address", "lat", "long", "media_url",
]  # fmt: skip
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
PERSONAL = ("13800138000", "reporter@example.com", "Zhang")


def form(**fields: Any) -> dict[str, Any]:
    """A complete request form, with ``fields`` replacing or adding keys (None drops one)."""
    data: dict[str, Any] = {
        "api_key": "any-key",
        "service_code": "S-04-01",
        **INSIDE,
        "description": "人行道上有人摆摊",
        "address_string": "泰山区财源街道东岳大街",
        "first_name": "San",
        "last_name": "Zhang",
        "phone": "13800138000",
        "email": "reporter@example.com",
        "media_url": "https://photos.example.com/a.jpg",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def post(client: TestClient, fmt: str = "json", **fields: Any) -> httpx.Response:
    return client.post(f"{V2}/requests.{fmt}", data=form(**fields))


def created(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = post(client, **fields)
    assert response.status_code == 201, response.text
    body: list[dict[str, Any]] = response.json()
    return body[0]


def parse_xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("application/xml")
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(response.content)


def open311_error(response: httpx.Response, status: int) -> str:
    """Check the GeoReport v2 error shape (JSON) and return the descriptions joined."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list)
    assert body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body)
    return " | ".join(e["description"] for e in body)


def xml_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    root = parse_xml(response)
    assert root.tag == "errors"
    errors = root.findall("error")
    assert errors
    assert all(e.findtext("code") == str(status) for e in errors)
    return " | ".join(e.findtext("description") or "" for e in errors)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


# --------------------------------------------------------------------------- services
def test_services_json(client: TestClient) -> None:
    response = client.get(f"{V2}/services.json")
    assert response.status_code == 200
    services = response.json()
    assert len(services) == 44
    assert all(list(s) == SERVICE_FIELDS for s in services)
    vending = next(s for s in services if s["service_code"] == "S-04-01")
    assert vending["service_name"] == "占道经营"
    assert vending["description"].startswith("Street vending occupying the road. 立案条件：")
    assert vending["metadata"] is False
    assert vending["type"] == "realtime"
    assert vending["group"] == "街面秩序"
    assert vending["keywords"]
    assert " ," not in vending["keywords"]


def test_services_xml_has_the_same_services(client: TestClient) -> None:
    services = client.get(f"{V2}/services.json").json()
    root = parse_xml(client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    elements = root.findall("service")
    assert [e.findtext("service_code") for e in elements] == [s["service_code"] for s in services]
    assert all([child.tag for child in e] == SERVICE_FIELDS for e in elements)
    manhole = elements[0]
    assert manhole.findtext("service_name") == "井盖缺失"  # Chinese text as is
    assert manhole.findtext("metadata") == "false"
    assert manhole.findtext("group") == "公用设施"


def test_services_at_a_point(client: TestClient) -> None:
    everything = client.get(f"{V2}/services.json").json()
    # every category is routable anywhere in the city, so a point inside offers all of them
    assert client.get(f"{V2}/services.json", params=INSIDE).json() == everything
    assert client.get(f"{V2}/services.json", params=OUTSIDE).json() == []
    assert len(parse_xml(client.get(f"{V2}/services.xml", params=OUTSIDE))) == 0
    gcj02 = client.get(f"{V2}/services.json", params={**INSIDE, "crs": "gcj02"}).json()
    assert gcj02 == everything


def test_services_at_a_point_errors(client: TestClient) -> None:
    assert "both lat and long" in open311_error(client.get(f"{V2}/services.json", params={"lat": 36.19}), 400)
    assert "lat" in open311_error(
        client.get(f"{V2}/services.json", params={"lat": "north", "long": 117}), 400
    )
    assert "lat" in xml_error(client.get(f"{V2}/services.xml", params={"lat": "north", "long": 117}), 400)
    assert open311_error(client.get(f"{V2}/services.json", params={"lat": 95, "long": 117.13}), 400)


def test_service_definition(client: TestClient) -> None:
    assert client.get(f"{V2}/services/S-04-01.json").json() == {"service_code": "S-04-01", "attributes": []}
    # loosely typed codes are accepted and answered with the canonical one
    assert client.get(f"{V2}/services/s0401.json").json()["service_code"] == "S-04-01"
    root = parse_xml(client.get(f"{V2}/services/S-04-01.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "S-04-01"
    attributes = root.find("attributes")
    assert attributes is not None
    assert len(attributes) == 0


def test_unknown_service_definition_is_404(client: TestClient) -> None:
    assert "S-99-01" in open311_error(client.get(f"{V2}/services/S-99-01.json"), 404)
    assert "S-99-01" in xml_error(client.get(f"{V2}/services/S-99-01.xml"), 404)


# --------------------------------------------------------------------------- requests
def test_post_then_read_by_id_token_and_listing(client: TestClient) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    response = post(client)
    assert response.status_code == 201
    body = response.json()
    assert len(body) == 1
    new = body[0]
    assert list(new) == ["service_request_id", "service_notice", "account_id", "token"]
    assert new["account_id"] is None
    assert new["token"].startswith("rp_")
    assert "财源街道" in new["service_notice"]
    assert "2个工作小时" in new["service_notice"]
    request_id = new["service_request_id"]

    # by id
    one = client.get(f"{V2}/requests/{request_id}.json")
    assert one.status_code == 200
    [public] = one.json()
    assert list(public) == REQUEST_FIELDS
    assert public["service_request_id"] == request_id
    assert public["status"] == "open"
    assert public["status_notes"] == "上报"
    assert public["service_code"] == "S-04-01"
    assert public["service_name"] == "占道经营"
    assert public["agency_responsible"] == "财源街道"
    assert public["address"] == "泰山区财源街道东岳大街"
    assert (public["lat"], public["long"]) == (36.19, 117.13)
    assert public["media_url"] == "https://photos.example.com/a.jpg"
    assert public["expected_datetime"] is None  # no deadline before dispatch
    requested = dt.datetime.fromisoformat(public["requested_datetime"])
    assert requested.utcoffset() == dt.timedelta(hours=8)
    assert before <= requested <= dt.datetime.now(dt.UTC)
    assert not any(secret in one.text for secret in (*PERSONAL, new["token"]))

    root = parse_xml(client.get(f"{V2}/requests/{request_id}.xml"))
    assert root.tag == "service_requests"
    [element] = root.findall("request")
    assert [child.tag for child in element] == REQUEST_FIELDS
    assert element.findtext("service_name") == "占道经营"
    assert element.findtext("status") == "open"
    assert element.findtext("expected_datetime") == ""

    # by token
    assert client.get(f"{V2}/tokens/{new['token']}.json").json() == [
        {"service_request_id": request_id, "token": new["token"]}
    ]
    token_root = parse_xml(client.get(f"{V2}/tokens/{new['token']}.xml"))
    assert token_root.findtext("request/service_request_id") == request_id

    # in the listing, with filters
    def listed(fmt: str = "json", **params: str) -> list[str]:
        response = client.get(f"{V2}/requests.{fmt}", params=params)
        assert response.status_code == 200, response.text
        if fmt == "xml":
            return [e.findtext("service_request_id") or "" for e in parse_xml(response).findall("request")]
        return [r["service_request_id"] for r in response.json()]

    now = dt.datetime.now(dt.UTC)
    assert request_id in listed()
    assert request_id in listed("xml")
    assert listed(service_request_id=request_id) == [request_id]
    assert listed("xml", service_request_id=f"{request_id},999999") == [request_id]
    assert request_id in listed(service_code="S-04-01")
    assert request_id in listed(service_code="B-01-01,S-04-01")
    assert request_id not in listed(service_code="B-01-01")
    assert request_id in listed(status="open")
    assert request_id in listed(status="open,closed")
    assert request_id not in listed(status="closed")
    window = {"start_date": iso(now - dt.timedelta(hours=1)), "end_date": iso(now + dt.timedelta(hours=1))}
    assert request_id in listed(**window)
    assert request_id in listed("xml", **window, status="open", service_code="S-04-01")
    assert request_id in listed(start_date=iso(now - dt.timedelta(days=1)))
    assert request_id not in listed(start_date="2020-01-01T00:00:00Z", end_date="2020-03-01T00:00:00Z")
    assert request_id not in listed(end_date="2020-03-01")  # a date alone is Tai'an midnight
    listing = client.get(f"{V2}/requests.json").json()
    assert all(list(r) == REQUEST_FIELDS for r in listing)
    stamps = [r["requested_datetime"] for r in listing]
    assert stamps == sorted(stamps, reverse=True)


def test_post_answers_in_xml(client: TestClient) -> None:
    response = post(client, "xml", description="井盖附近有人摆摊")
    assert response.status_code == 201
    root = parse_xml(response)
    assert root.tag == "service_requests"
    [element] = root.findall("request")
    assert [child.tag for child in element] == ["service_request_id", "service_notice", "account_id", "token"]
    assert element.findtext("account_id") == ""
    token = element.findtext("token") or ""
    assert token.startswith("rp_")
    assert client.get(f"{V2}/tokens/{token}.json").json()[0]["service_request_id"] == element.findtext(
        "service_request_id"
    )


def test_gcj02_position_and_ignored_fields(client: TestClient) -> None:
    new = created(
        client,
        crs="gcj02",
        device_id="phone-1",
        account_id="acc-1",
        jurisdiction_id="taian",
        **{"attribute[WHISPER]": "1", "attribute[KINDS][]": "a"},
    )
    [public] = client.get(f"{V2}/requests/{new['service_request_id']}.json").json()
    # stored and shown in WGS84: the GCJ-02 offset here is a few hundred metres
    assert public["long"] != 117.13
    assert abs(public["long"] - 117.13) < 0.01
    assert abs(public["lat"] - 36.19) < 0.01


def test_idempotency_key_replays_the_first_request(client: TestClient) -> None:
    headers = {"Idempotency-Key": "open311-retry-0001"}
    first = client.post(f"{V2}/requests.json", data=form(), headers=headers)
    again = client.post(f"{V2}/requests.json", data=form(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    short = client.post(f"{V2}/requests.json", data=form(), headers={"Idempotency-Key": "short"})
    assert "Idempotency-Key" in open311_error(short, 400)


def _act(client: TestClient, report_id: str, token: str, action: str, note: str = "") -> None:
    response = client.post(
        f"/v1/reports/{report_id}/actions",
        json={"action": action, "note": note},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text


def test_status_follows_the_closed_loop(client: TestClient) -> None:
    new = created(client, description="占道摆摊，已持续一周")
    request_id = new["service_request_id"]
    native = client.get(f"/v1/reports/{request_id}", headers={"Authorization": f"Bearer {new['token']}"})
    owner = native.json()["owner"]["key"]
    engine = client.app.state.reports.engine  # type: ignore[attr-defined]
    dispatcher, _ = issue(engine, name="open311 test dispatcher", unit_key=owner, role="dispatcher")
    handler, _ = issue(engine, name="open311 test handler", unit_key=owner, role="handler")

    for action in ("verify", "file", "dispatch"):
        _act(client, request_id, dispatcher, action)
    [dispatched] = client.get(f"{V2}/requests/{request_id}.json").json()
    assert (dispatched["status"], dispatched["status_notes"]) == ("open", "派遣")
    assert dispatched["expected_datetime"] is not None  # the deadline starts at dispatch
    assert dispatched["updated_datetime"] >= dispatched["requested_datetime"]

    _act(client, request_id, handler, "start")
    _act(client, request_id, handler, "handle")
    _act(client, request_id, dispatcher, "check")
    _act(client, request_id, dispatcher, "close")
    [closed] = client.get(f"{V2}/requests/{request_id}.json").json()
    assert (closed["status"], closed["status_notes"]) == ("closed", "结案")
    root = parse_xml(client.get(f"{V2}/requests/{request_id}.xml"))
    assert root.findtext("request/status") == "closed"
    assert root.findtext("request/status_notes") == "结案"
    ids = [
        r["service_request_id"] for r in client.get(f"{V2}/requests.json", params={"status": "closed"}).json()
    ]
    assert request_id in ids
    ids = [
        r["service_request_id"] for r in client.get(f"{V2}/requests.json", params={"status": "open"}).json()
    ]
    assert request_id not in ids

    # an invalid (作废) case is closed too
    other = created(client, description="重复上报，已作废", lat=36.195)["service_request_id"]
    _act(client, other, dispatcher, "invalidate", note="重复")
    [invalid] = client.get(f"{V2}/requests/{other}.json").json()
    assert (invalid["status"], invalid["status_notes"]) == ("closed", "作废")


@pytest.mark.postgis
def test_the_same_answers_on_postgis(postgis_client: TestClient) -> None:
    """The public query (a correlated subquery, UTC bounds) on timestamptz columns."""
    new = created(postgis_client)
    request_id = new["service_request_id"]
    [public] = postgis_client.get(f"{V2}/requests/{request_id}.json").json()
    assert (public["status"], public["agency_responsible"]) == ("open", "财源街道")
    assert public["updated_datetime"] == public["requested_datetime"]
    assert (
        postgis_client.get(f"{V2}/tokens/{new['token']}.json").json()[0]["service_request_id"] == request_id
    )
    now = dt.datetime.now(dt.UTC)
    window = {"start_date": iso(now - dt.timedelta(hours=1)), "end_date": iso(now + dt.timedelta(hours=1))}
    for params, expected in [
        ({**window, "status": "open", "service_code": "S-04-01"}, True),
        ({**window, "status": "closed"}, False),
        ({"end_date": "2020-03-01"}, False),
    ]:
        ids = [
            r["service_request_id"] for r in postgis_client.get(f"{V2}/requests.json", params=params).json()
        ]
        assert (request_id in ids) is expected, params


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"description": None}, "description: Field required"),
        ({"lat": None}, "lat: Field required"),
        ({"service_code": None}, "service_code: Field required"),
        ({"api_key": None}, "api_key: Field required"),
        ({"lat": "north"}, "lat: Input should be a valid number"),
        ({"long": "nan"}, "lon=nan is not a finite number"),
        (OUTSIDE, "outside the city"),
        ({"service_code": "S-99-01"}, "unknown category code 'S-99-01'"),
        ({"service_code": "占道经营"}, "did you mean S-04-01"),
        ({"description": "   "}, "description is empty"),
        ({"media_url": "ftp://example.com/a.jpg"}, "not an http(s) URL"),
        ({"attribute[": "1"}, "malformed attribute key 'attribute['"),
        ({"attribute[]": "1"}, "malformed attribute key"),
        ({"attribute[a b]": "1"}, "malformed attribute key"),
        ({"description": "摆摊\x00"}, "description contains control characters"),
        ({"crs": "EPSG:99999999"}, "EPSG:99999999"),
    ],
)
def test_bad_requests_are_400(client: TestClient, fields: dict[str, Any], fragment: str) -> None:
    assert fragment in open311_error(post(client, **fields), 400)


def test_bad_request_in_xml(client: TestClient) -> None:
    assert "outside the city" in xml_error(post(client, "xml", **OUTSIDE), 400)
    assert "lat: Input should be a valid number" in xml_error(post(client, "xml", lat="north"), 400)


def test_json_body_is_refused_with_a_hint(client: TestClient) -> None:
    response = client.post(f"{V2}/requests.json", json=form())
    assert "form-encoded" in open311_error(response, 400)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"status": "pending"}, "unknown status 'pending'"),
        ({"status": "open,"}, "empty status"),
        ({"service_code": "S-99-01"}, "unknown category code"),
        ({"service_request_id": "1,abc"}, "service_request_id: String should match pattern"),
        ({"service_request_id": "1,,2"}, "service_request_id: String should match pattern"),
        ({"service_request_id": "0"}, "'0' is not a request id"),
        ({"service_request_id": "4294967295"}, "'4294967295' is not a request id"),
        ({"start_date": "yesterday"}, "'yesterday' is not a date-time with an offset"),
        ({"start_date": "0.5"}, "'0.5' is not a date-time"),  # not a Unix time either
        ({"end_date": "2020-01-01T08:00:00"}, "is not a date-time with an offset"),
        ({"end_date": "2020-02-30"}, "end_date"),
        ({"start_date": "9999-12-31"}, "out of range"),
        ({"start_date": "2020-01-01", "end_date": "2020-06-01"}, "spans more than 90 days"),
        ({"start_date": "2020-03-01", "end_date": "2020-01-01"}, "is after end_date"),
    ],
)
def test_bad_listing_filters_are_400(client: TestClient, params: dict[str, str], fragment: str) -> None:
    assert fragment in open311_error(client.get(f"{V2}/requests.json", params=params), 400)
    assert xml_error(client.get(f"{V2}/requests.xml", params=params), 400)


def test_unknown_ids_and_tokens_are_404(client: TestClient) -> None:
    assert "service request 2147483647 does not exist" in open311_error(
        client.get(f"{V2}/requests/2147483647.json"), 404
    )
    assert "does not exist" in xml_error(client.get(f"{V2}/requests/2147483647.xml"), 404)
    assert open311_error(client.get(f"{V2}/tokens/rp_not-a-token.json"), 404)
    assert xml_error(client.get(f"{V2}/tokens/rp_not-a-token.xml"), 404)
    assert "valid integer" in open311_error(client.get(f"{V2}/requests/abc.json"), 400)


@pytest.mark.parametrize(
    "path", ["/services.csv", "/services/S-04-01.html", "/requests.txt", "/requests/1.yaml", "/tokens/x.csv"]
)
def test_unknown_format_is_404_listing_the_formats(client: TestClient, path: str) -> None:
    assert "allowed: json, xml" in open311_error(client.get(V2 + path), 404)


def test_unknown_path_is_an_open311_404(client: TestClient) -> None:
    assert "services.{format}" in open311_error(client.get(f"{V2}/services"), 404)
    assert "allowed: json, xml" in open311_error(client.post(f"{V2}/requests.csv", data=form()), 404)


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "OPTIONS"])
def test_other_methods_are_405_naming_get_and_post(client: TestClient, method: str) -> None:
    response = client.request(method, f"{V2}/requests.json")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_head_of_the_listing_is_its_headers(client: TestClient) -> None:
    got, head = client.get(f"{V2}/requests.json"), client.head(f"{V2}/requests.json")
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_names_this_endpoint_and_its_formats(client: TestClient, fmt: str) -> None:
    response = client.get(f"{V2}/discovery.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        body = response.json()
        (endpoint,) = body["endpoints"]
        assert endpoint["url"] == f"http://testserver{V2}"
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["type"] == "test"  # SIJI_ENVIRONMENT=test
        assert endpoint["formats"] == ["application/json", "application/xml"]
        assert "SIJI_OPEN311_API_KEYS" in body["key_service"]
        assert body["changeset"].endswith("+08:00")
    else:
        root = ET.fromstring(response.content)
        assert root.tag == "discovery"
        formats = root.findall("endpoints/endpoint/formats/format")
        assert [f.text for f in formats] == ["application/json", "application/xml"]
        assert root.findtext("endpoints/endpoint/url") == f"http://testserver{V2}"
    # each advertised format is really answered
    for media in ("application/json", "application/xml"):
        fmt_of = {"application/json": "json", "application/xml": "xml"}[media]
        services = client.get(f"{V2}/services.{fmt_of}")
        assert services.headers["content-type"].startswith(media)
    assert "discovery.{format}" in open311_error(client.get(f"{V2}/discovery"), 404)


def test_the_native_error_format_is_unchanged(client: TestClient) -> None:
    response = client.get("/v1/lookup", params={"lon": "east", "lat": 36.19})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert client.get("/v1/nothing-here").json()["error"]["code"] == "not_found"


def test_openapi_documents_both_media_types(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = [(p, m, op) for p, item in paths.items() if p.startswith(V2) for m, op in item.items()]
    assert len(operations) == 7
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (path, method)
        success = "201" if method == "post" else "200"
        for status in (success, "400", "404"):
            assert set(responses[status]["content"]) == {"application/json", "application/xml"}, (
                path,
                status,
            )
        formats = next(p for p in operation["parameters"] if p["name"] == "format")
        assert formats["schema"]["enum"] == ["json", "xml"]
    form_schema = paths[f"{V2}/requests.{{format}}"]["post"]["requestBody"]["content"]
    assert list(form_schema) == ["application/x-www-form-urlencoded"]


# --------------------------------------------------------------------------- api keys
@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A production app with one Open311 key, ``k1``."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('open311') / 'siji.db'}",
        environment="production",
        secret_key="open311-production-test-secret",
        open311_api_keys=["k1"],
        escalation_interval_s=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_production_needs_a_configured_key(production: TestClient) -> None:
    assert "api_key" in open311_error(post(production, api_key="k2"), 403)
    assert "api_key" in open311_error(post(production, api_key="k1 "), 403)
    assert "api_key" in xml_error(post(production, "xml", api_key="any-key"), 403)
    assert "api_key: Field required" in open311_error(post(production, api_key=""), 400)  # empty is absent
    assert post(production, api_key="k1").status_code == 201


@pytest.mark.parametrize(
    ("environment", "keys", "api_key", "accepted"),
    [
        ("production", [], "anything", False),
        ("production", ["k1", "k2"], "k2", True),
        ("production", ["k1"], "K1", False),
        ("production", [""], "x", False),
        ("test", [], "anything", False),
        ("development", [], "anything", True),
        ("development", ["k1"], "anything", False),
    ],
)
def test_api_key_rule(environment: str, keys: list[str], api_key: str, accepted: bool) -> None:
    """Configured keys must match; with none configured, any key in development only."""
    from api.routes.open311 import _check_api_key
    from routing.workflow import ForbiddenError

    settings = Settings(
        environment=environment,  # type: ignore[arg-type]
        secret_key="open311-production-test-secret",
        open311_api_keys=keys,
    )
    if accepted:
        _check_api_key(settings, api_key)
    else:
        with pytest.raises(ForbiddenError, match="Invalid api_key"):
            _check_api_key(settings, api_key)


def test_production_without_keys_refuses_before_reading_anything(tmp_path: Any) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        environment="production",
        secret_key="open311-production-test-secret",
    )
    # Without the lifespan there is no database: the key is checked before anything is read.
    response = TestClient(create_app(settings)).post(f"{V2}/requests.json", data=form())
    assert "api_key" in open311_error(response, 403)
