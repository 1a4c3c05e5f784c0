r"""Fuzzing every operation of the service's own OpenAPI schema with schemathesis.

Each operation in ``/openapi.json`` gets generated requests: valid ones, ones that
break the schema on purpose (where the operation has an input to break), and valid
ones aimed at real data (the seeded reports, their reporter token, real unit and
category codes).  Each request is sent by every kind of caller that matters to the
operation: anonymous, a reporter with the token from intake, and staff of a community,
a subdistrict, a district and the city (public routes: anonymous and one staff token).
Every answer must be a documented status, never a 5xx, with a documented content type
and headers and a body valid against the documented schema, and a request that breaks
the schema must be refused with a 4xx.

``SIJI_FUZZ_EXAMPLES`` sets the generated requests per operation (default: a few, so
the file stays within CI's time budget), ``SIJI_FUZZ_MAP_EXAMPLES`` those of the three
map analyses (default: the same, at most 4); generation is derandomized, so a run sends
the same requests every time.  The long run (see the README)::

    SIJI_FUZZ_EXAMPLES=1000 SIJI_FUZZ_MAP_EXAMPLES=25 .venv/bin/pytest tests/api/test_fuzz.py \
        -p no:cacheprovider -o junit_family=xunit1 --junitxml=fuzz-long.xml

(each operation's examples and requests sent are properties in ``fuzz-long.xml``).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python import asgi

from api.app import create_app
from api.settings import Settings
from routing.intake import ReportIn
from routing.staff import issue

FUZZ_EXAMPLES = int(os.environ.get("SIJI_FUZZ_EXAMPLES", "4"))
# A map request analyses the whole city (~6 s and a 10 MB answer for hot spots), so the
# map routes get their own, smaller count in long runs.
MAP_EXAMPLES = int(os.environ.get("SIJI_FUZZ_MAP_EXAMPLES", str(min(FUZZ_EXAMPLES, 4))))
BASE_URL = "http://testserver"

TAISHAN = (117.13, 36.19)  # 泰山区 财源街道 三里社区
SEED_CATEGORIES = ("B-04-03", "S-01-01", "B-01-05", "B-01-04")  # owned by community … city department
STAFF = {
    "community": ("370902002001", "handler"),  # 三里社区
    "subdistrict": ("370902002000", "dispatcher"),  # 财源街道
    "district": ("370902000000", "supervisor"),  # 泰山区
    "city": ("370900000000", "planner"),  # 泰安市
}
CALLERS = ("anonymous", "reporter", *STAFF)
PUBLIC_CALLERS = ("anonymous", "district")
UNIT_CODES = ("370902002000", "370902002001")  # small units: the city's outline is megabytes

FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    # Filtering (negative cases that stay valid) and slow routes (maps) are expected here.
    suppress_health_check=list(HealthCheck),
)


CHECKS = (
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
)
MAP_ROUTES = (("GET", "/maps/density"), ("GET", "/maps/hotspots"), ("GET", "/maps/pocket-parks"))


@functools.cache
def _openapi() -> dict[str, Any]:
    """The app's OpenAPI schema; the app is built without its lifespan or a database."""
    return create_app(Settings(database_url="sqlite://", environment="test")).openapi()  # type: ignore[call-arg]


def _operations() -> list[Any]:
    """One pytest param per operation of the app's schema: method, path, has inputs, callers."""
    params = []
    for path, item in _openapi()["paths"].items():
        for method, spec in item.items():
            has_inputs = bool(spec.get("parameters") or spec.get("requestBody"))
            # Routes that read the token get every kind of caller; public routes are
            # called anonymously and with a staff token (a token must not break them).
            callers = CALLERS if spec.get("security") else PUBLIC_CALLERS
            label = f"{method.upper()} {path}"
            params.append(pytest.param(method.upper(), path, has_inputs, callers, id=label))
    return params


@dataclass(frozen=True)
class FuzzTarget:
    """The app under test, its schema, the callers' headers and real values to aim at."""

    schema: Any
    session: Any
    headers: dict[str, dict[str, str]]
    real_path_values: dict[str, tuple[Any, ...]]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """The service on its own SQLite file, with seeded reports and a token per caller."""
    database = Path(tmp_path_factory.mktemp("fuzz")) / "siji.db"
    app = create_app(
        Settings(  # type: ignore[call-arg]
            database_url=f"sqlite:///{database}",
            media_dir=database.parent / "media",
            environment="test",
            escalation_interval_s=0,
            rate_limit_per_address=0,  # the fuzzer sends far more than a client may
            rate_limit_per_token=0,
            open311_api_keys=["demo"],  # the documented example key, so that posts reach intake
        )
    )
    # One lifespan for the module: schemathesis' own ASGI transport would end the app's
    # lifespan after every test and start it (index build included) again for the next.
    # Its in-process client, never entered, sends requests without starting one.
    with TestClient(app):
        schema = schemathesis.openapi.from_dict(_without_security(app.openapi()))
        engine = app.state.boundaries.engine
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for caller, (unit, role) in STAFF.items():
            token, _ = issue(engine, name=f"fuzz-{caller}", unit_key=unit, role=role)
            headers[caller] = {"Authorization": f"Bearer {token}"}
        report_ids, reporter_tokens = [], []
        for category in SEED_CATEGORIES:
            seed = ReportIn(x=TAISHAN[0], y=TAISHAN[1], category=category, description="种子", channel="app")
            submitted = app.state.reports.submit(seed)
            report_ids.append(submitted.report["id"])
            reporter_tokens.append(submitted.reporter_token)
        headers["reporter"] = {"Authorization": f"Bearer {reporter_tokens[0]}"}
        real_path_values = {
            "report_id": tuple(report_ids),
            "service_request_id": tuple(report_ids),
            "token": tuple(reporter_tokens),
            "code": UNIT_CODES,
            "service_code": SEED_CATEGORIES,
        }
        yield FuzzTarget(
            schema=schema, session=asgi.get_client(app), headers=headers, real_path_values=real_path_values
        )


def _without_security(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema with no security requirements, for generating requests.

    Every case is sent with each caller's own ``Authorization`` (or none); left in, the
    requirement would make schemathesis generate "missing Authorization" negative cases
    and then blame the API for accepting them once the caller's token is added.
    """
    spec = copy.deepcopy(spec)
    for item in spec["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
    return spec


def call_and_validate(target: FuzzTarget, case: Any, caller: str, checks: Sequence[Any] = CHECKS) -> Any:
    """Send ``case`` as ``caller`` through the app's in-process client; raise for any failed check."""
    return case.call_and_validate(
        base_url=BASE_URL, session=target.session, headers=target.headers[caller], checks=list(checks)
    )


def _strategy(fuzz_target: FuzzTarget, operation: Any, has_inputs: bool) -> Any:
    """Requests aimed at real ids first (so even a few examples reach them), then any."""
    names = [p.name for p in operation.path_parameters]
    aimed = [name for name in names if name in fuzz_target.real_path_values]
    strategies = []
    if aimed:
        real = st.fixed_dictionaries({n: st.sampled_from(fuzz_target.real_path_values[n]) for n in aimed})
        strategies.append(real.flatmap(lambda values: operation.as_strategy(path_parameters=values)))
    strategies.append(operation.as_strategy(GenerationMode.POSITIVE))
    if has_inputs:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


# Which seeded report (index into SEED_CATEGORIES) each caller may read: the fuzzing
# reaches real reports only if these hold.  (Run before the fuzzing, which may reroute
# or close the seeded reports.)
READABLE_SEED = {"reporter": 0, "community": 0, "subdistrict": 1, "district": 2, "city": 3}


@pytest.mark.parametrize(("caller", "seed"), sorted(READABLE_SEED.items()))
def test_seeded_reports_are_readable_by_their_callers(
    fuzz_target: FuzzTarget, caller: str, seed: int
) -> None:
    report_id = fuzz_target.real_path_values["report_id"][seed]
    case = fuzz_target.schema["/v1/reports/{report_id}"]["GET"].Case(path_parameters={"report_id": report_id})
    response = call_and_validate(fuzz_target, case, caller)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == report_id


def test_anonymous_reads_no_seeded_report(fuzz_target: FuzzTarget) -> None:
    report_id = fuzz_target.real_path_values["report_id"][0]
    case = fuzz_target.schema["/v1/reports/{report_id}"]["GET"].Case(path_parameters={"report_id": report_id})
    assert call_and_validate(fuzz_target, case, "anonymous").status_code == 401


@pytest.mark.parametrize(("method", "path", "has_inputs", "callers"), _operations())
def test_every_operation_answers_every_caller_as_documented(
    fuzz_target: FuzzTarget,
    record_property: Any,
    method: str,
    path: str,
    has_inputs: bool,
    callers: tuple[str, ...],
) -> None:
    operation = fuzz_target.schema[path][method]
    checks = CHECKS
    sent = {"examples": 0, "requests": 0}

    examples = MAP_EXAMPLES if (method, path) in MAP_ROUTES else FUZZ_EXAMPLES

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(_strategy(fuzz_target, operation, has_inputs))
    def fuzz(case: Any) -> None:
        sent["examples"] += 1
        for caller in callers:
            sent["requests"] += 1
            call_and_validate(fuzz_target, case, caller, checks)

    try:
        fuzz()
    finally:  # the counts of a run (--junitxml) are its figures
        for name, count in sent.items():
            record_property(name, count)


@pytest.mark.parametrize(
    ("lon", "lat", "crs", "code", "named"),
    [
        ("nan", "36.19", "wgs84", "invalid_coordinate", "lon=nan"),
        ("-inf", "36.19", "wgs84", "invalid_coordinate", "lon=-inf"),
        ("1e400", "36.19", "wgs84", "invalid_coordinate", "lon=inf"),  # overflows to inf
        ("200", "36.19", "wgs84", "invalid_coordinate", "lon=200.0"),
        ("-1e308", "1e308", "gcj02", "invalid_coordinate", "lon=-1e+308"),
        ("1e308", "1e308", "EPSG:4548", "invalid_coordinate", "(1e+308, 1e+308)"),  # no WGS84 position
        ("36.19", "117.13", "wgs84", "swapped_axes", "(36.19, 117.13)"),
        ("117.13", "36.19", "EPSG:99999", "unknown_crs", "'EPSG:99999'"),
        ("117.13", "36.19", "bogus", "unknown_crs", "'bogus'"),
        ("117.13", "x", "wgs84", "invalid_request", "query.lat"),
    ],
)
def test_bad_coordinates_get_documented_422s_naming_the_value(
    fuzz_target: FuzzTarget, lon: str, lat: str, crs: str, code: str, named: str
) -> None:
    case = fuzz_target.schema["/v1/lookup"]["GET"].Case(query={"lon": lon, "lat": lat, "crs": crs})
    response = call_and_validate(fuzz_target, case, "anonymous")
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], named in error["message"]) == (code, True), error["message"]


# --------------------------------------------------------------------------- fixed bugs
# What the fuzzer found in this test owner's files, pinned by direct tests.


@pytest.mark.parametrize(
    ("url", "path", "body"),
    [
        ("/v1/reports", "/v1/reports", b'{"description": "\xe9"}'),
        ("/v1/reports/1/actions", "/v1/reports/{report_id}/actions", b'{"action": "\xe9"}'),
    ],
)
def test_unreadable_body_is_a_documented_400_naming_the_content_type(
    fuzz_target: FuzzTarget, url: str, path: str, body: bytes
) -> None:
    # FastAPI answers a body it cannot decode with its own 400, before the route runs.
    headers = {"content-type": "application/json", **fuzz_target.headers["city"]}
    response = fuzz_target.session.post(BASE_URL + url, data=body, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unreadable_body"
    assert "'application/json'" in error["message"]
    assert "UTF-8" in error["message"]
    assert "400" in fuzz_target.schema.raw_schema["paths"][path]["post"]["responses"]


@pytest.mark.parametrize(("code", "status"), [("370902002001", 200), ("999999999999", 404)])
def test_unit_geojson_is_documented_as_geojson_and_its_errors_as_json(
    fuzz_target: FuzzTarget, code: str, status: int
) -> None:
    responses = fuzz_target.schema.raw_schema["paths"]["/v1/units/{code}.geojson"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["application/geo+json"]
    assert list(responses["404"]["content"]) == ["application/json"]
    case = fuzz_target.schema["/v1/units/{code}.geojson"]["GET"].Case(path_parameters={"code": code})
    response = call_and_validate(fuzz_target, case, "anonymous")
    assert response.status_code == status
    if status == 200:
        assert response.json()["properties"]["code"] == code


OPEN311_OPERATIONS = [
    (method, path)
    for path, item in _openapi()["paths"].items()
    if path.startswith("/open311/")
    for method in item
]


@pytest.mark.parametrize(("method", "path"), OPEN311_OPERATIONS)
def test_open311_rate_limit_answer_is_documented_in_its_own_format(method: str, path: str) -> None:
    # The limiter answers Open311 paths with the GeoReport v2 error list, JSON or XML.
    answer = _openapi()["paths"][path][method]["responses"]["429"]
    assert sorted(answer["content"]) == ["application/json", "application/xml"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Open311ErrorList"}
    assert "Retry-After" in answer["headers"]


# --------------------------------------------------------------------------- found bugs
# Bugs the fuzzer found, pinned so that they stay fixed.


@pytest.mark.parametrize(("method", "path"), MAP_ROUTES)
@pytest.mark.parametrize("status", ["401", "403", "422"])
def test_map_errors_are_documented_as_json(method: str, path: str, status: str) -> None:
    content = _openapi()["paths"][path][method.lower()]["responses"][status]["content"]
    assert "application/json" in content, sorted(content)


@pytest.mark.parametrize("value", ["0.0", "1700000000"])
def test_audit_times_must_be_date_times_with_an_offset(fuzz_target: FuzzTarget, value: str) -> None:
    case = fuzz_target.schema["/v1/audit"]["GET"].Case(query={"since": value})
    assert call_and_validate(fuzz_target, case, "district").status_code == 422
